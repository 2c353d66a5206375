package dev.flotilla.sdk;

import java.util.Objects;

/**
 * Structured output: the generated text is JSON of this shape, enforced while decoding (tokens that
 * would leave it are never sampled, and generation ends when the value is whole).
 *
 * @param name the schema's name, for messages; empty for {@link #anyObject()}
 * @param schemaJson a JSON Schema as JSON text, or null for any JSON object. Supported keywords:
 *     type, properties, required, additionalProperties (a boolean), items, enum, const, anyOf,
 *     minLength and maxLength, and annotations; the server refuses others by name
 */
public record JsonFormat(String name, String schemaJson) {
  public JsonFormat {
    Objects.requireNonNull(name, "name");
  }

  /** Any JSON object (OpenAI's {@code json_object}). */
  public static JsonFormat anyObject() {
    return new JsonFormat("", null);
  }

  /** JSON valid for {@code schemaJson} (OpenAI's {@code json_schema}). */
  public static JsonFormat schema(String name, String schemaJson) {
    return new JsonFormat(name, Objects.requireNonNull(schemaJson, "schemaJson"));
  }
}
