/**
 * The time budgets of the host volume plugin's calls, in one place: Nomad's bounds, and
 * nixmount's own inside them with margins that hold on a loaded node (a queue on the
 * wrapper's lock, a serve that is slow to be scheduled). Create and delete count from
 * when the wrapper started, before it queued, since Nomad's clock runs from then.
 */

/**
 * Nomad gives `fingerprint` one second (client/fingerprint/dynamic_host_volumes.go,
 * GetHostVolumePluginVersions, through client/hostvolumemanager/host_volume_plugin.go);
 * a plugin that misses it is left out of the node's attributes, silently. The wrapper
 * answers it itself, without starting Node.
 */
export const NOMAD_FINGERPRINT_LIMIT_MS = 1_000;

/**
 * Nomad SIGKILLs create and delete after a minute (client/host_volume_endpoint.go,
 * hostVolumeRequestTimeout): no cleanup, and a create that failed is never deleted.
 */
export const NOMAD_KILL_MS = 60_000;

/** The wrapper queues behind the node's other operations at most this long, then answers "busy". */
export const WRAPPER_LOCK_WAIT_S = 30;

/** No create or delete begins later than this after the wrapper's start (taking the state dir, asking serve, serve beginning it). */
export const START_BY_MS = 45_000;

/** The plugin has printed its answer by this, 10 s before Nomad's kill; a create that finishes later is undone. */
export const ANSWER_BY_MS = 50_000;

/**
 * A serve's answer-by time is this much earlier than the plugin's, so an answer serve
 * sends in time reaches a plugin still waiting for it: serve never reports a volume
 * made to a plugin that has already told Nomad the create failed.
 */
export const SERVE_ANSWER_MARGIN_MS = 2_000;

/** What a create needs after its closure is realised (the view, the record, the mount): the closure wait ends this long before the answer-by time. */
export const AFTER_REALISE_MS = 10_000;

/** The shortest closure wait a create gets, however late it starts (a closure already in the store needs none of it). */
export const MIN_REALISE_WAIT_MS = 1_000;

/** An undo the plugin asks of serve after its answer (a volume mounted out of the node's sight) is given this long, well before Nomad's kill. */
export const UNDO_MS = 5_000;

/** When a call's work must have begun and its answer be given, in epoch milliseconds. */
export interface HostVolumeDeadlines {
  startBy: number;
  answerBy: number;
}

/**
 * The plugin's deadlines from the wrapper's start (epoch ms). A start later than
 * `notAfter` (a clock set wrong, a forged `--started-at`) counts as `notAfter`, and an
 * unknown one too: nothing lengthens the budget past Nomad's.
 */
export function pluginDeadlines(startedAtMs: number | undefined, notAfter: number): HostVolumeDeadlines {
  const started = startedAtMs === undefined || !Number.isFinite(startedAtMs) ? notAfter : Math.min(startedAtMs, notAfter);
  return { startBy: started + START_BY_MS, answerBy: started + ANSWER_BY_MS };
}

/** What the plugin asks of a serve: the same start-by time, and an answer early enough to reach it (SERVE_ANSWER_MARGIN_MS). */
export function serveDeadlines(plugin: HostVolumeDeadlines): HostVolumeDeadlines {
  const answerBy = plugin.answerBy - SERVE_ANSWER_MARGIN_MS;
  return { startBy: Math.min(plugin.startBy, answerBy), answerBy };
}

/**
 * The deadlines a serve keeps for a request that names them: a request cannot give
 * itself more than a whole budget from now, nor begin after it must answer.
 */
export function boundedDeadlines(asked: HostVolumeDeadlines, now: number): HostVolumeDeadlines {
  const answerBy = Math.min(asked.answerBy, now + ANSWER_BY_MS);
  return { startBy: Math.min(asked.startBy, answerBy), answerBy };
}

/** How long a create may wait for its closure, begun at `now`. */
export function realiseWaitMs(deadlines: HostVolumeDeadlines, now: number): number {
  return Math.max(MIN_REALISE_WAIT_MS, deadlines.answerBy - AFTER_REALISE_MS - now);
}

/** How long an operation may wait for another one on its path, begun at `now`. */
export function busyWaitMs(deadlines: HostVolumeDeadlines, now: number): number {
  return Math.max(0, deadlines.answerBy - now);
}
