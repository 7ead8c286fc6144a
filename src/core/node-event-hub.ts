import { inject, injectable } from 'inversify';
import { Logger } from './ports/logger.js';
import type { NodeEvent, NodeEventListener, NodeEvents } from './ports/node-events.js';

/**
 * The one NodeEvents: hands each event to every listener in turn. A listener that
 * throws is logged and kept; nothing it does reaches the operation that emitted.
 */
@injectable()
export class NodeEventHub implements NodeEvents {
  private readonly listeners = new Set<NodeEventListener>();

  constructor(@inject(Logger) private readonly log: Logger) {}

  emit(event: NodeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn({ err: error, event: event.kind }, 'a node event listener failed');
      }
    }
  }

  subscribe(listener: NodeEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
