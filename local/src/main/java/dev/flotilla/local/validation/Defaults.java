package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * What kube-apiserver does to a custom resource after pruning and before validating it: a {@code
 * null} in a field that is neither nullable nor defaulted is dropped, then every declared {@code
 * default} fills its field where the field is missing (or a non-nullable null) and its parent
 * object exists. A default does not create its parent: {@code spec.scaling.maxReplicas} gets its
 * default only when {@code spec.scaling} is there.
 */
final class Defaults {
  private Defaults() {}

  static void dropNonNullableNulls(JsonNode value, Schema schema) {
    if (schema == null) {
      return;
    }
    if (value.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        Schema property = schema.property(e.getKey());
        if (property != null) {
          if (e.getValue().isNull() && property.defaultValue() == null && !property.nullable()) {
            it.remove();
          } else {
            dropNonNullableNulls(e.getValue(), property);
          }
        } else if (schema.additionalProperties() != null) {
          dropNonNullableNulls(e.getValue(), schema.additionalProperties());
        }
      }
    } else if (value.isArray()) {
      value.forEach(item -> dropNonNullableNulls(item, schema.items()));
    }
  }

  static void apply(JsonNode value, Schema schema) {
    if (schema == null) {
      return;
    }
    if (value instanceof ObjectNode object) {
      schema
          .properties()
          .forEach(
              (name, property) -> {
                JsonNode current = object.get(name);
                JsonNode fallback = property.defaultValue();
                if (fallback != null
                    && (current == null || current.isNull() && !property.nullable())) {
                  object.set(name, fallback.deepCopy());
                }
              });
      object
          .fields()
          .forEachRemaining(
              e -> {
                Schema property = schema.property(e.getKey());
                apply(e.getValue(), property != null ? property : schema.additionalProperties());
              });
    } else if (value.isArray()) {
      value.forEach(item -> apply(item, schema.items()));
    }
  }
}
