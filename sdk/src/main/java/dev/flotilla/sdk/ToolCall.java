package dev.flotilla.sdk;

import java.util.Objects;

/**
 * A call of one of the request's {@link Tool tools}, as the model wrote it; also how an earlier
 * call is given back in an assistant {@link ChatMessage}.
 *
 * @param id unique within its response ({@code call_...}); the tool's answer refers to it
 * @param name the function called
 * @param argumentsJson the arguments object as JSON text
 */
public record ToolCall(String id, String name, String argumentsJson) {
  public ToolCall {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(argumentsJson, "argumentsJson");
  }
}
