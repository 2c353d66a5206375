package dev.flotilla.worker.engine;

/**
 * A failure reported by the native engine, with its status and the engine's message (which names
 * the file, tensor, row or limit involved). Thrown directly for {@link EngineStatus#INTERNAL}.
 */
public class EngineException extends RuntimeException {
  private final EngineStatus status;

  public EngineException(String message) {
    this(EngineStatus.INTERNAL, message);
  }

  protected EngineException(EngineStatus status, String message) {
    super(message);
    this.status = status;
  }

  public EngineStatus status() {
    return status;
  }
}
