package dev.flotilla.worker.structured;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;

/**
 * An independent check of a JSON value against the schema subset the compiler supports, written
 * from the JSON Schema rules rather than from the compiler, so the property test does not grade the
 * compiler by itself.
 */
public final class JsonSchemaCheck {
  private JsonSchemaCheck() {}

  public static boolean valid(JsonNode value, JsonNode schema) {
    if (schema.has("const") && !schema.get("const").equals(value)) {
      return false;
    }
    if (schema.has("enum")) {
      boolean found = false;
      for (JsonNode e : schema.get("enum")) {
        found |= e.equals(value);
      }
      if (!found) {
        return false;
      }
    }
    if (schema.has("anyOf")) {
      boolean any = false;
      for (JsonNode alt : schema.get("anyOf")) {
        any |= valid(value, alt);
      }
      if (!any) {
        return false;
      }
    }
    if (schema.has("type") && !typeMatches(value, schema.get("type"))) {
      return false;
    }
    if (value.isTextual()) {
      int length = value.asText().codePointCount(0, value.asText().length());
      if (length < schema.path("minLength").asInt(0)
          || length > schema.path("maxLength").asInt(Integer.MAX_VALUE)) {
        return false;
      }
    }
    if (value.isObject()) {
      JsonNode props = schema.path("properties");
      for (JsonNode r : schema.path("required")) {
        if (!value.has(r.asText())) {
          return false;
        }
      }
      for (Iterator<String> it = value.fieldNames(); it.hasNext(); ) {
        String name = it.next();
        if (props.has(name)) {
          if (!valid(value.get(name), props.get(name))) {
            return false;
          }
        } else if (!schema.path("additionalProperties").asBoolean(true)) {
          return false;
        }
      }
    }
    if (value.isArray() && schema.has("items")) {
      for (JsonNode item : value) {
        if (!valid(item, schema.get("items"))) {
          return false;
        }
      }
    }
    return true;
  }

  private static boolean typeMatches(JsonNode v, JsonNode type) {
    if (type.isArray()) {
      for (JsonNode t : type) {
        if (typeMatches(v, t)) {
          return true;
        }
      }
      return false;
    }
    return switch (type.asText()) {
      case "string" -> v.isTextual();
      case "number" -> v.isNumber();
      case "integer" -> v.isIntegralNumber();
      case "boolean" -> v.isBoolean();
      case "null" -> v.isNull();
      case "object" -> v.isObject();
      case "array" -> v.isArray();
      default -> false;
    };
  }
}
