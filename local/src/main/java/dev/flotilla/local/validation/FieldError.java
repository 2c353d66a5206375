package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One field-level validation error, worded as kube-apiserver's {@code field.Error} words it: {@code
 * <field>: <Type text>[: <bad value>][: <detail>]}, e.g. {@code spec.model: Required value} or
 * {@code spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to
 * 0}. The type's reason ({@code FieldValueRequired}, …) becomes the cause's {@code reason} in the
 * 422 Status.
 *
 * @param badValue a string, Long, Double, Boolean, a JSON object or array, {@code null} (printed
 *     {@code "null"}), a {@link Printed} value, or {@link #OMIT} when the type prints no value
 */
public record FieldError(Type type, String field, Object badValue, String detail) {
  /** Marks an error whose body names no value ({@code field.TooMany} with an unknown count). */
  public static final Object OMIT = new Object();

  /** A bad value of a Go type printed as Go prints it, e.g. {@code 0x0} for a uint64 zero. */
  public record Printed(String text) {}

  /** {@code field.ErrorType}: the cause reason and the text its body starts with. */
  public enum Type {
    REQUIRED("FieldValueRequired", "Required value", false),
    INVALID("FieldValueInvalid", "Invalid value", true),
    TYPE_INVALID("FieldValueTypeInvalid", "Invalid value", true),
    NOT_SUPPORTED("FieldValueNotSupported", "Unsupported value", true),
    DUPLICATE("FieldValueDuplicate", "Duplicate value", true),
    FORBIDDEN("FieldValueForbidden", "Forbidden", false),
    TOO_LONG("FieldValueTooLong", "Too long", false),
    TOO_MANY("FieldValueTooMany", "Too many", true);

    final String reason;
    final String text;
    final boolean printsValue;

    Type(String reason, String text, boolean printsValue) {
      this.reason = reason;
      this.text = text;
      this.printsValue = printsValue;
    }

    /** The {@code reason} of a Status cause, e.g. {@code FieldValueRequired}. */
    public String reason() {
      return reason;
    }
  }

  static FieldError required(String field, String detail) {
    return new FieldError(Type.REQUIRED, field, "", detail);
  }

  static FieldError invalid(String field, Object value, String detail) {
    return new FieldError(Type.INVALID, field, value, detail);
  }

  /** The JSON value as the Go value kube-apiserver holds after decoding it. */
  static Object goValue(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return null;
    }
    if (node.isTextual()) {
      return node.textValue();
    }
    if (node.isIntegralNumber() && node.canConvertToLong()) {
      return node.longValue();
    }
    if (node.isNumber()) {
      return node.doubleValue();
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    return node;
  }

  /** The message without the field: {@code ErrorBody()}. */
  public String body() {
    StringBuilder s = new StringBuilder(type.text);
    if (type.printsValue && badValue != OMIT) {
      s.append(": ").append(printed(badValue));
    }
    if (!detail.isEmpty()) {
      s.append(": ").append(detail);
    }
    return s.toString();
  }

  /** {@code Error()}: the field, then the body. */
  @Override
  public String toString() {
    return field + ": " + body();
  }

  /** Strings quoted, numbers and booleans plain, the rest in Go syntax ({@code %#v}). */
  private static String printed(Object value) {
    if (value == null) {
      return GoText.quote("null");
    }
    if (value instanceof String s) {
      return GoText.quote(s);
    }
    if (value instanceof JsonNode node) {
      return goSyntax(node);
    }
    if (value instanceof Printed printed) {
      return printed.text();
    }
    return GoText.value(value);
  }

  private static String goSyntax(JsonNode node) {
    if (node.isObject()) {
      Map<String, JsonNode> sorted = new TreeMap<>();
      node.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
      List<String> entries = new ArrayList<>();
      sorted.forEach((k, v) -> entries.add(GoText.quote(k) + ":" + goSyntaxElement(v)));
      return "map[string]interface {}{" + String.join(", ", entries) + "}";
    }
    List<String> items = new ArrayList<>();
    for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
      items.add(goSyntaxElement(it.next()));
    }
    return "[]interface {}{" + String.join(", ", items) + "}";
  }

  private static String goSyntaxElement(JsonNode node) {
    Object value = goValue(node);
    if (value == null) {
      return "interface {}(nil)";
    }
    return value instanceof JsonNode n ? goSyntax(n) : printed(value);
  }
}
