package dev.flotilla.testkit;

import java.io.IOException;

/** A file that is not valid safetensors: its header, offsets or size contradict each other. */
public class SafetensorsFormatException extends IOException {

  public SafetensorsFormatException(String message) {
    super(message);
  }

  public SafetensorsFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
