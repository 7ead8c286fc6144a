import type { ReplayStep } from '../replay.js';

/**
 * Whether the replay's calls are an order a CSI orchestrator may use, consistent with the
 * adapter's `supportsStaging`: an adapter that stages has every publish name a staging path
 * staged before it and still staged; one that does not is never staged; every publish is
 * unpublished and every stage unstaged, and no unstage comes while a publish still uses it.
 */
export function stagingProblems(supportsStaging: boolean, steps: readonly ReplayStep[]): string[] {
  const problems: string[] = [];
  const staged = new Set<string>();
  const published = new Map<string, string | undefined>();
  const stages = steps.filter((step) => step.kind === 'stage').length;
  if (supportsStaging && stages === 0) problems.push('supportsStaging is true, but the replay never stages (an orchestrator that stages calls NodeStageVolume first)');
  if (!supportsStaging && stages > 0) problems.push('supportsStaging is false, but the replay stages (the plugin would not advertise STAGE_UNSTAGE_VOLUME, so the orchestrator would not)');
  for (const [index, step] of steps.entries()) {
    const at = `step ${index + 1} (${step.kind})`;
    if (step.kind === 'stage') {
      if (staged.has(step.stagingPath)) problems.push(`${at}: ${step.stagingPath} is staged twice`);
      staged.add(step.stagingPath);
    } else if (step.kind === 'publish') {
      if (supportsStaging && step.stagingPath === undefined) problems.push(`${at}: ${step.targetPath} is published without a staging path, though the adapter stages`);
      if (step.stagingPath !== undefined && !staged.has(step.stagingPath)) problems.push(`${at}: publishes from ${step.stagingPath}, which is not staged`);
      if (published.has(step.targetPath)) problems.push(`${at}: ${step.targetPath} is published twice`);
      published.set(step.targetPath, step.stagingPath);
    } else if (step.kind === 'unpublish') {
      if (!published.has(step.targetPath)) problems.push(`${at}: unpublishes ${step.targetPath}, which is not published`);
      published.delete(step.targetPath);
    } else if (step.kind === 'unstage') {
      if (!staged.has(step.stagingPath)) problems.push(`${at}: unstages ${step.stagingPath}, which is not staged`);
      const users = [...published.entries()].filter(([, staging]) => staging === step.stagingPath).map(([target]) => target);
      if (users.length > 0) problems.push(`${at}: unstages ${step.stagingPath} while ${users.join(', ')} is still published from it`);
      staged.delete(step.stagingPath);
    }
  }
  for (const target of published.keys()) problems.push(`${target} is never unpublished`);
  for (const staging of staged) problems.push(`${staging} is never unstaged`);
  return problems;
}
