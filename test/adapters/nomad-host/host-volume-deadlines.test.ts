import test from 'ava';
import {
  ANSWER_BY_MS,
  boundedDeadlines,
  MIN_REALISE_WAIT_MS,
  NOMAD_KILL_MS,
  pluginDeadlines,
  realiseWaitMs,
  SERVE_ANSWER_MARGIN_MS,
  serveDeadlines,
  START_BY_MS,
} from '../../../src/adapters/nomad-host/host-volume-deadlines.js';

const NOW = Date.UTC(2026, 0, 1, 12);

test('the budgets sit inside Nomad\'s minute in order: start by, serve answers, the plugin answers, Nomad kills', (t) => {
  t.deepEqual([START_BY_MS, ANSWER_BY_MS - SERVE_ANSWER_MARGIN_MS, ANSWER_BY_MS, NOMAD_KILL_MS], [45_000, 48_000, 50_000, 60_000]);
});

test('the plugin counts from the wrapper\'s start; a start later than its own, or none, counts as its own', (t) => {
  t.deepEqual(pluginDeadlines(NOW - 30_000, NOW), { startBy: NOW + 15_000, answerBy: NOW + 20_000 }, 'queued 30 s on the wrapper\'s lock');
  t.deepEqual(pluginDeadlines(NOW + 3_600_000, NOW), { startBy: NOW + START_BY_MS, answerBy: NOW + ANSWER_BY_MS }, 'a clock an hour ahead lends no time');
  t.deepEqual(pluginDeadlines(undefined, NOW), { startBy: NOW + START_BY_MS, answerBy: NOW + ANSWER_BY_MS });
  t.deepEqual(pluginDeadlines(Number.NaN, NOW), { startBy: NOW + START_BY_MS, answerBy: NOW + ANSWER_BY_MS });
  t.deepEqual(pluginDeadlines(Number.POSITIVE_INFINITY, NOW), { startBy: NOW + START_BY_MS, answerBy: NOW + ANSWER_BY_MS });
});

test('serve is asked to answer before the plugin stops waiting, and never to begin after that', (t) => {
  t.deepEqual(serveDeadlines({ startBy: NOW + 45_000, answerBy: NOW + 50_000 }), { startBy: NOW + 45_000, answerBy: NOW + 48_000 });
  t.deepEqual(serveDeadlines({ startBy: NOW + 50_000, answerBy: NOW + 50_000 }), { startBy: NOW + 48_000, answerBy: NOW + 48_000 });
});

test('serve keeps no more than a whole budget from now, whatever a request names', (t) => {
  t.deepEqual(boundedDeadlines({ startBy: NOW + 1e12, answerBy: NOW + 1e12 }, NOW), { startBy: NOW + ANSWER_BY_MS, answerBy: NOW + ANSWER_BY_MS });
  t.deepEqual(boundedDeadlines({ startBy: NOW + 9_000, answerBy: NOW + 5_000 }, NOW), { startBy: NOW + 5_000, answerBy: NOW + 5_000 }, 'no start after the answer is due');
  t.deepEqual(boundedDeadlines({ startBy: NOW - 1, answerBy: NOW + 3_000 }, NOW), { startBy: NOW - 1, answerBy: NOW + 3_000 });
});

test('the closure wait ends 10 s before the answer is due, and is never below its floor', (t) => {
  t.is(realiseWaitMs({ startBy: NOW + 45_000, answerBy: NOW + 50_000 }, NOW), 40_000);
  t.is(realiseWaitMs({ startBy: NOW + 1_000, answerBy: NOW + 5_000 }, NOW), MIN_REALISE_WAIT_MS);
});
