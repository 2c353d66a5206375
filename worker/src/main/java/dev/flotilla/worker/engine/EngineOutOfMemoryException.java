package dev.flotilla.worker.engine;

/** The engine could not allocate memory. */
public class EngineOutOfMemoryException extends EngineException {
  public EngineOutOfMemoryException(String message) {
    super(EngineStatus.OUT_OF_MEMORY, message);
  }
}
