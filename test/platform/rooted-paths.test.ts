import test from 'ava';
import { RootedPaths } from '../../src/platform/rooted-paths.js';

const app = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const lib = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';

test('a closure computed before its roots were rooted is never served', (t) => {
  const rooted = new RootedPaths();
  const before = rooted.ticket([app]);
  rooted.hold('view1', [app]);
  rooted.remember([app], [app, lib], before);
  t.is(rooted.closureOf([app]), undefined);
});

test('a closure computed while rooted is served until the last root holding it is dropped', (t) => {
  const rooted = new RootedPaths();
  rooted.hold('view1', [app]);
  rooted.hold('view2', [app]);
  rooted.remember([app], [app, lib], rooted.ticket([app]));
  t.deepEqual(rooted.closureOf([app]), [app, lib]);
  t.true(rooted.isRooted(app));
  t.false(rooted.isRooted(lib)); // only roots are known valid through our GC roots' own entries
  rooted.drop('view1');
  t.deepEqual(rooted.closureOf([app]), [app, lib]);
  rooted.drop('view2');
  t.false(rooted.isRooted(app));
  t.is(rooted.closureOf([app]), undefined);
  rooted.hold('view3', [app]);
  t.is(rooted.closureOf([app]), undefined); // forgotten: it may have been collected and rebuilt meanwhile
});

test('holding again under one holder replaces its roots', (t) => {
  const rooted = new RootedPaths();
  rooted.hold('view1', [app]);
  rooted.hold('view1', [lib]);
  t.false(rooted.isRooted(app));
  t.true(rooted.isRooted(lib));
  rooted.drop('view1');
  t.false(rooted.isRooted(lib));
});

test('a closure query during which a root was dropped is not remembered', (t) => {
  const rooted = new RootedPaths();
  rooted.hold('view1', [app]);
  rooted.hold('view2', [app]);
  const ticket = rooted.ticket([app]);
  rooted.drop('view1');
  rooted.remember([app], [app, lib], ticket);
  t.is(rooted.closureOf([app]), undefined);
});
