package dev.flotilla.gateway.service;

/**
 * Where an admitted request stands. {@link #mayMoveTo} is the one table of its moves:
 *
 * <pre>
 * QUEUED    -> ROUTED (a worker was picked), DONE (rejected, or the client went away)
 * ROUTED    -> STREAMING (the call is open), QUEUED (the worker failed it: try another), DONE
 * STREAMING -> QUEUED (the worker failed before the first token: try another), DONE
 * DONE      -> nothing: an event that finds the request DONE is late and ignored
 * </pre>
 */
enum RequestPhase {
  /** Waiting in its model's scheduler: held while cold, or in the fair queue. */
  QUEUED,
  /** A worker was picked; its adapter may be loading and the call is not open yet. */
  ROUTED,
  /** The worker call is open and its tokens go to the client. */
  STREAMING,
  /** Finished: the usage event and the client's answer are on their way; later events are late. */
  DONE;

  boolean mayMoveTo(RequestPhase next) {
    return switch (this) {
      case QUEUED -> next == ROUTED || next == DONE;
      case ROUTED -> next == STREAMING || next == QUEUED || next == DONE;
      case STREAMING -> next == QUEUED || next == DONE;
      case DONE -> false;
    };
  }
}
