package dev.flotilla.worker.engine;

/** A file is malformed: JSON, safetensors header, a missing tensor. */
public class ModelFormatException extends EngineException {
  public ModelFormatException(String message) {
    super(EngineStatus.FORMAT, message);
  }
}
