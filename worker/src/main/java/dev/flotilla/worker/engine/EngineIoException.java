package dev.flotilla.worker.engine;

/** A model or adapter file could not be opened or read. */
public class EngineIoException extends EngineException {
  public EngineIoException(String message) {
    super(EngineStatus.IO, message);
  }
}
