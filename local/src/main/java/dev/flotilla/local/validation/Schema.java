package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A read-only view of one node of a CRD's structural OpenAPI v3 schema, with the vendor extensions
 * kube-apiserver honours. Properties come back sorted by name, so errors and unknown-field lists
 * come out in a stable order (kube-apiserver's own order follows Go map iteration, which varies).
 */
final class Schema {
  private final JsonNode node;

  Schema(JsonNode node) {
    this.node = node;
  }

  JsonNode node() {
    return node;
  }

  /** {@code type}, or empty when unset (int-or-string, preserved unknown fields). */
  String type() {
    return node.path("type").asText("");
  }

  /** The types a value may have: {@code integer,string} for int-or-string, else the one type. */
  List<String> types() {
    if (intOrString()) {
      return List.of("integer", "string");
    }
    return type().isEmpty() ? List.of() : List.of(type());
  }

  boolean nullable() {
    return node.path("nullable").asBoolean(false);
  }

  boolean intOrString() {
    return node.path("x-kubernetes-int-or-string").asBoolean(false);
  }

  boolean preservesUnknownFields() {
    return node.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
  }

  Map<String, Schema> properties() {
    Map<String, Schema> properties = new TreeMap<>();
    node.path("properties").fields().forEachRemaining(e -> properties.put(e.getKey(), of(e)));
    return properties;
  }

  Schema property(String name) {
    JsonNode p = node.path("properties").get(name);
    return p == null ? null : new Schema(p);
  }

  /** The schema of a map's values, or null when {@code additionalProperties} is not a schema. */
  Schema additionalProperties() {
    JsonNode a = node.get("additionalProperties");
    return a != null && a.isObject() ? new Schema(a) : null;
  }

  /** True when {@code additionalProperties} is set at all (a schema or {@code true}). */
  boolean hasAdditionalProperties() {
    JsonNode a = node.get("additionalProperties");
    return a != null && (a.isObject() || a.asBoolean(false));
  }

  Schema items() {
    JsonNode i = node.get("items");
    return i != null && i.isObject() ? new Schema(i) : null;
  }

  JsonNode defaultValue() {
    JsonNode d = node.get("default");
    return d == null || d.isNull() ? null : d;
  }

  List<String> required() {
    List<String> required = new ArrayList<>();
    node.path("required").forEach(r -> required.add(r.asText()));
    return required;
  }

  List<Schema> list(String keyword) {
    List<Schema> schemas = new ArrayList<>();
    node.path(keyword).forEach(s -> schemas.add(new Schema(s)));
    return schemas;
  }

  Schema not() {
    JsonNode n = node.get("not");
    return n != null && n.isObject() ? new Schema(n) : null;
  }

  /** {@code x-kubernetes-list-type}: atomic (the default), set or map. */
  String listType() {
    return node.path("x-kubernetes-list-type").asText("atomic");
  }

  List<String> listMapKeys() {
    List<String> keys = new ArrayList<>();
    node.path("x-kubernetes-list-map-keys").forEach(k -> keys.add(k.asText()));
    return keys;
  }

  JsonNode validations() {
    return node.path("x-kubernetes-validations");
  }

  private static Schema of(Map.Entry<String, JsonNode> e) {
    return new Schema(e.getValue());
  }
}
