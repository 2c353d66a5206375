package dev.flotilla.worker.engine;

/** Well-formed but unsupported: architecture, dtype, RoPE scaling type, adapter option. */
public class UnsupportedModelException extends EngineException {
  public UnsupportedModelException(String message) {
    super(EngineStatus.UNSUPPORTED, message);
  }
}
