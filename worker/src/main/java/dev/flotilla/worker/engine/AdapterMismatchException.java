package dev.flotilla.worker.engine;

/** A LoRA adapter does not fit its base model: a missing target or layer, or a wrong shape. */
public class AdapterMismatchException extends ShapeMismatchException {
  public AdapterMismatchException(String message) {
    super(message);
  }
}
