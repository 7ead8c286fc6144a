import test from 'ava';
import { bindFarmMounts, choosePresentation } from '../../src/core/view-presentation.js';
import { mountMaxFitting } from '../../bench/presentation-scenarios.js';

/**
 * The bench's budget scenario reports "bind farms = what the budget fits": the
 * fs.mount-max it writes must make the plugin's own choice give exactly that many farms
 * of a closure, each volume deciding on the mounts the ones before it added.
 */
function farmsChosen(paths: number, max: number, used: number, volumes: number): number {
  let farms = 0;
  for (let i = 0; i < volumes; i++) {
    const choice = choosePresentation({ mode: 'auto', writable: false, paths, farmExists: farms > 0, count: { max, used } });
    if (choice.presentation !== 'bind-farm') continue;
    used += bindFarmMounts(paths, farms > 0);
    farms++;
  }
  return farms;
}

for (const [paths, farms, used] of [[201, 10, 37], [201, 1, 20], [6, 25, 3000], [101, 300, 500]] as const) {
  test(`a budget written for ${farms} farms of ${paths} paths with ${used} mounts present fits exactly ${farms}`, (t) => {
    const max = mountMaxFitting(paths, farms, used);
    t.is(farmsChosen(paths, max, used, farms + 50), farms);
    t.is(farmsChosen(paths, max - bindFarmMounts(paths, true), used, farms + 50), farms - 1, 'one volume less of budget fits one farm less');
  });
}
