package dev.flotilla.local.validation;

import static dev.flotilla.local.validation.FieldError.goValue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.re2j.Pattern;
import dev.flotilla.local.validation.FieldError.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The OpenAPI v3 checks kube-apiserver makes on a custom resource (kube-openapi's {@code
 * SchemaValidator}, run by apiextensions' {@code ValidateCustomResource}), in its order (type,
 * composition, string, number, array, enum, object) and in its words: each error becomes the {@link
 * FieldError} apiextensions makes of it (required → {@code Required value}, enum → {@code
 * Unsupported value}, maxLength → {@code Too long}, maxItems/maxProperties → {@code Too many}, type
 * → {@code FieldValueTypeInvalid}, the rest → {@code Invalid value} with kube-openapi's {@code
 * <path> in body should …} detail).
 *
 * <p>Patterns are RE2, as in Go's regexp: {@code $} is the end of the text, so a value with a
 * trailing newline fails {@code ^[a-z]+$} here as it does there (java.util.regex would let it
 * through).
 *
 * <p>Paths are kube-openapi's: {@code spec.a.b}, {@code spec.list[0]}, map values {@code
 * spec.map.key}.
 */
final class OpenApiChecks {
  private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();
  private static final double MAX_JSON_INTEGER = 9007199254740992.0; // 2^53

  private OpenApiChecks() {}

  static List<FieldError> validate(Schema schema, JsonNode value) {
    List<FieldError> errors = new ArrayList<>();
    check(schema, "", value, errors);
    return errors;
  }

  private static void check(Schema s, String path, JsonNode data, List<FieldError> errors) {
    if (data == null || data.isNull()) {
      type(s, path, null, errors);
      enumeration(s, path, null, errors);
      return;
    }
    type(s, path, data, errors);
    composition(s, path, data, errors);
    if (data.isTextual()) {
      string(s, path, data.textValue(), errors);
    }
    if (data.isNumber()) {
      number(s, path, data, errors);
    }
    if (data.isArray()) {
      array(s, path, data, errors);
    }
    enumeration(s, path, data, errors);
    if (data.isObject()) {
      object(s, path, data, errors);
    }
  }

  /** The field as apiextensions names it: the path without a leading dot, or {@code <nil>}. */
  static String field(String path) {
    String trimmed = path.startsWith(".") ? path.substring(1) : path;
    return trimmed.isEmpty() ? "<nil>" : trimmed;
  }

  private static void type(Schema s, String path, JsonNode data, List<FieldError> errors) {
    List<String> types = s.types();
    if (types.isEmpty()) {
      return;
    }
    String expected = String.join(",", types);
    if (data == null) {
      if (!types.contains("null") && !s.nullable()) {
        errors.add(typeError(path, expected, "null"));
      }
      return;
    }
    String actual = jsonType(data);
    boolean floatInt =
        actual.equals("number") && isJsonInteger(data.doubleValue()) && types.contains("integer");
    boolean intFloat = actual.equals("integer") && types.contains("number");
    if (!(types.contains(actual) || floatInt || intFloat)) {
      errors.add(typeError(path, expected, actual));
    }
  }

  private static FieldError typeError(String path, String expected, String actual) {
    return new FieldError(
        Type.TYPE_INVALID,
        field(path),
        actual,
        path + " in body must be of type " + expected + ": " + GoText.quote(actual));
  }

  /** The JSON type kube-openapi infers from the decoded Go value. */
  static String jsonType(JsonNode data) {
    if (data.isTextual()) {
      return "string";
    }
    if (data.isBoolean()) {
      return "boolean";
    }
    if (data.isIntegralNumber() && data.canConvertToLong()) {
      return "integer";
    }
    if (data.isNumber()) {
      return "number";
    }
    return data.isArray() ? "array" : "object";
  }

  private static boolean isJsonInteger(double f) {
    return f == Math.rint(f) && Math.abs(f) < MAX_JSON_INTEGER;
  }

  private static void composition(Schema s, String path, JsonNode data, List<FieldError> errors) {
    List<Schema> anyOf = s.list("anyOf");
    if (!anyOf.isEmpty()) {
      List<FieldError> best = null;
      boolean valid = false;
      for (Schema alternative : anyOf) {
        List<FieldError> result = new ArrayList<>();
        check(alternative, path, data, result);
        if (result.isEmpty()) {
          valid = true;
          break;
        }
        if (best == null || result.size() < best.size()) {
          best = result;
        }
      }
      if (!valid) {
        errors.add(composite(GoText.quote(path) + " must validate at least one schema (anyOf)"));
        errors.addAll(best);
      }
    }
    List<Schema> oneOf = s.list("oneOf");
    if (!oneOf.isEmpty()) {
      List<FieldError> best = null;
      int valid = 0;
      for (Schema alternative : oneOf) {
        List<FieldError> result = new ArrayList<>();
        check(alternative, path, data, result);
        if (result.isEmpty()) {
          valid++;
        } else if (valid == 0 && (best == null || result.size() < best.size())) {
          best = result;
        }
      }
      if (valid != 1) {
        String found = valid == 0 ? "Found none valid" : "Found " + valid + " valid alternatives";
        errors.add(
            composite(
                GoText.quote(path) + " must validate one and only one schema (oneOf). " + found));
        if (valid == 0 && best != null) {
          errors.addAll(best);
        }
      }
    }
    List<Schema> allOf = s.list("allOf");
    if (!allOf.isEmpty()) {
      int valid = 0;
      for (Schema part : allOf) {
        List<FieldError> result = new ArrayList<>();
        check(part, path, data, result);
        valid += result.isEmpty() ? 1 : 0;
        errors.addAll(result);
      }
      if (valid != allOf.size()) {
        errors.add(
            composite(
                GoText.quote(path)
                    + " must validate all the schemas (allOf)"
                    + (valid == 0 ? ". None validated" : "")));
      }
    }
    Schema not = s.not();
    if (not != null) {
      List<FieldError> result = new ArrayList<>();
      check(not, path, data, result);
      if (result.isEmpty()) {
        errors.add(composite(GoText.quote(path) + " must not validate the schema (not)"));
      }
    }
  }

  /** kube-openapi's composite errors carry no field; apiextensions files them under none. */
  private static FieldError composite(String message) {
    return FieldError.invalid("<nil>", "", message);
  }

  private static void string(Schema s, String path, String data, List<FieldError> errors) {
    JsonNode schema = s.node();
    int length = data.codePointCount(0, data.length());
    if (schema.has("maxLength") && length > schema.get("maxLength").asLong()) {
      errors.add(
          new FieldError(
              Type.TOO_LONG,
              field(path),
              data,
              "may not be longer than " + schema.get("maxLength").asLong()));
      return;
    }
    if (schema.has("minLength") && length < schema.get("minLength").asLong()) {
      errors.add(
          FieldError.invalid(
              field(path),
              data,
              path
                  + " in body should be at least "
                  + schema.get("minLength").asLong()
                  + " chars long"));
      return;
    }
    String pattern = schema.path("pattern").asText("");
    if (!pattern.isEmpty()
        && !PATTERNS.computeIfAbsent(pattern, Pattern::compile).matcher(data).find()) {
      errors.add(
          FieldError.invalid(field(path), data, path + " in body should match '" + pattern + "'"));
    }
  }

  /**
   * multipleOf, minimum, maximum, in that order. An integer is compared with the bound truncated to
   * an integer, as kube-openapi does, so {@code 0} passes {@code minimum: 0.001}.
   */
  private static void number(Schema s, String path, JsonNode data, List<FieldError> errors) {
    JsonNode schema = s.node();
    Object value = goValue(data);
    boolean integer = value instanceof Long;
    if (schema.has("multipleOf")) {
      double factor = schema.get("multipleOf").asDouble();
      boolean multiple;
      Object shown;
      if (integer) {
        long f = (long) factor;
        multiple = f != 0 && (Long) value % f == 0;
        shown = f;
      } else {
        double d = data.doubleValue();
        multiple = isJsonInteger(factor < 1 ? 1 / factor * d : d / factor);
        shown = factor;
      }
      if (!multiple) {
        errors.add(
            FieldError.invalid(
                field(path),
                value,
                path + " in body should be a multiple of " + GoText.value(shown)));
      }
    }
    if (schema.has("minimum")) {
      double min = schema.get("minimum").asDouble();
      boolean exclusive = schema.path("exclusiveMinimum").asBoolean(false);
      boolean below;
      Object shown;
      if (integer) {
        long m = (long) min;
        long v = (Long) value;
        below = exclusive ? v <= m : v < m;
        shown = m;
      } else {
        double v = data.doubleValue();
        below = exclusive ? v <= min : v < min;
        shown = min;
      }
      if (below) {
        errors.add(
            FieldError.invalid(
                field(path),
                value,
                path
                    + " in body should be greater than "
                    + (exclusive ? "" : "or equal to ")
                    + GoText.value(shown)));
      }
    }
    if (schema.has("maximum")) {
      double max = schema.get("maximum").asDouble();
      boolean exclusive = schema.path("exclusiveMaximum").asBoolean(false);
      boolean above;
      Object shown;
      if (integer) {
        long m = (long) max;
        long v = (Long) value;
        above = exclusive ? v >= m : v > m;
        shown = m;
      } else {
        double v = data.doubleValue();
        above = exclusive ? v >= max : v > max;
        shown = max;
      }
      if (above) {
        errors.add(
            FieldError.invalid(
                field(path),
                value,
                path
                    + " in body should be less than "
                    + (exclusive ? "" : "or equal to ")
                    + GoText.value(shown)));
      }
    }
  }

  private static void array(Schema s, String path, JsonNode data, List<FieldError> errors) {
    Schema items = s.items();
    if (items != null) {
      for (int i = 0; i < data.size(); i++) {
        check(items, path + "[" + i + "]", data.get(i), errors);
      }
    }
    JsonNode schema = s.node();
    long size = data.size();
    if (schema.has("minItems") && size < schema.get("minItems").asLong()) {
      errors.add(
          FieldError.invalid(
              field(path),
              size,
              path
                  + " in body should have at least "
                  + schema.get("minItems").asLong()
                  + " items"));
    }
    if (schema.has("maxItems") && size > schema.get("maxItems").asLong()) {
      errors.add(
          new FieldError(
              Type.TOO_MANY,
              field(path),
              size,
              "must have at most " + schema.get("maxItems").asLong() + " items"));
    }
  }

  private static void enumeration(Schema s, String path, JsonNode data, List<FieldError> errors) {
    JsonNode allowed = s.node().path("enum");
    if (!allowed.isArray() || allowed.isEmpty()) {
      return;
    }
    List<String> values = new ArrayList<>();
    for (JsonNode candidate : allowed) {
      if (data != null && sameValue(data, candidate)) {
        return;
      }
      values.add(candidate.isTextual() ? candidate.textValue() : candidate.toString());
    }
    List<String> quoted = values.stream().map(GoText::quote).toList();
    errors.add(
        new FieldError(
            Type.NOT_SUPPORTED,
            field(path),
            goValue(data),
            "supported values: " + String.join(", ", quoted)));
  }

  /** Equal as decoded JSON, numbers by value (kube-openapi converts before comparing). */
  private static boolean sameValue(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    return a.equals(b);
  }

  private static void object(Schema s, String path, JsonNode data, List<FieldError> errors) {
    JsonNode schema = s.node();
    long size = data.size();
    if (schema.has("minProperties") && size < schema.get("minProperties").asLong()) {
      errors.add(
          FieldError.invalid(
              field(path),
              size,
              path
                  + " in body should have at least "
                  + schema.get("minProperties").asLong()
                  + " properties"));
      return;
    }
    if (schema.has("maxProperties") && size > schema.get("maxProperties").asLong()) {
      errors.add(
          new FieldError(
              Type.TOO_MANY,
              field(path),
              size,
              "must have at most " + schema.get("maxProperties").asLong() + " items"));
      return;
    }
    Map<String, Schema> properties = s.properties();
    Schema additional = s.additionalProperties();
    if (additional != null) {
      data.fieldNames()
          .forEachRemaining(
              key -> {
                if (!properties.containsKey(key)) {
                  check(additional, path + "." + key, data.get(key), errors);
                }
              });
    }
    properties.forEach(
        (name, property) -> {
          if (data.has(name)) {
            check(property, path.isEmpty() ? name : path + "." + name, data.get(name), errors);
          }
        });
    for (String name : s.required()) {
      if (!data.has(name)) {
        errors.add(FieldError.required(field(path + "." + name), ""));
      }
    }
  }
}
