package dev.flotilla.sdk;

import java.util.Objects;

/**
 * Whether the model may, must, or must not call one of the request's tools.
 *
 * @param mode how the model chooses
 * @param functionName the function it must call, for {@link Mode#FUNCTION}; else empty
 */
public record ToolChoice(Mode mode, String functionName) {
  /** How the model chooses. */
  public enum Mode {
    /** The model chooses; calls it writes are parsed. */
    AUTO,
    /** No call is parsed; the output is text. */
    NONE,
    /** The output is one or more calls (one without parallel tool calls), arguments enforced. */
    REQUIRED,
    /** The output is one call of {@link #functionName()}, its arguments enforced. */
    FUNCTION
  }

  public ToolChoice {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(functionName, "functionName");
    if ((mode == Mode.FUNCTION) == functionName.isEmpty()) {
      throw new IllegalArgumentException("a function name goes with FUNCTION, and only with it");
    }
  }

  /** The model chooses (the default). */
  public static ToolChoice auto() {
    return new ToolChoice(Mode.AUTO, "");
  }

  /** The model calls no tool. */
  public static ToolChoice none() {
    return new ToolChoice(Mode.NONE, "");
  }

  /** The model must call one or more tools. */
  public static ToolChoice required() {
    return new ToolChoice(Mode.REQUIRED, "");
  }

  /** The model must call {@code name}. */
  public static ToolChoice function(String name) {
    return new ToolChoice(Mode.FUNCTION, name);
  }
}
