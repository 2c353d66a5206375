package dev.flotilla.sdk;

import java.util.Objects;

/**
 * A function the model may call (OpenAI's {@code tools} entry of type {@code function}). The chat
 * template shows it to the model; with {@link ToolChoice#required()} or a named function the
 * arguments are enforced to match {@code parametersJson} while decoding.
 *
 * @param name the function's name
 * @param description what it does, for the model; empty for none
 * @param parametersJson a JSON Schema of its arguments object as JSON text, or null for none
 */
public record Tool(String name, String description, String parametersJson) {
  public Tool {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    if (name.isBlank()) {
      throw new IllegalArgumentException("a tool needs a name");
    }
  }

  /** A function with a description and a JSON Schema of its arguments. */
  public static Tool function(String name, String description, String parametersJson) {
    return new Tool(name, description, Objects.requireNonNull(parametersJson, "parametersJson"));
  }

  String toJson() {
    StringBuilder json = new StringBuilder("{\"type\":\"function\",\"function\":{\"name\":");
    Json.string(json, name);
    if (!description.isEmpty()) {
      json.append(",\"description\":");
      Json.string(json, description);
    }
    if (parametersJson != null) {
      json.append(",\"parameters\":").append(parametersJson);
    }
    return json.append("}}").toString();
  }
}
