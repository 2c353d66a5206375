package dev.flotilla.worker.engine;

/**
 * A bad argument: token id, position, sequence id, batch shape, a stale adapter, context limits.
 */
public class InvalidEngineArgumentException extends EngineException {
  public InvalidEngineArgumentException(String message) {
    super(EngineStatus.INVALID_ARGUMENT, message);
  }
}
