package dev.flotilla.worker.engine;

/** A tensor does not have the shape the model config implies. */
public class ShapeMismatchException extends EngineException {
  public ShapeMismatchException(String message) {
    super(EngineStatus.SHAPE_MISMATCH, message);
  }
}
