package dev.flotilla.worker.config;

/**
 * A setting is missing or unusable; the message names the environment variable and the property.
 */
public class WorkerConfigException extends RuntimeException {
  public WorkerConfigException(String message) {
    super(message);
  }

  public WorkerConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
