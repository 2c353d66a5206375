package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Structural pruning as kube-apiserver does it when it decodes a custom resource ({@code
 * preserveUnknownFields: false}, the only choice in apiextensions/v1): every field the schema does
 * not declare is dropped, except under {@code x-kubernetes-preserve-unknown-fields}, and its path
 * is reported ({@code spec.foo}, {@code spec.list[0].bar}) so the request's {@code fieldValidation}
 * can decide whether that is an error, a warning or nothing. At the root, {@code apiVersion} and
 * {@code kind} are kept and {@code metadata} keeps the fields of ObjectMeta.
 */
final class UnknownFields {
  private static final Set<String> OBJECT_META =
      Set.of(
          "name",
          "generateName",
          "namespace",
          "selfLink",
          "uid",
          "resourceVersion",
          "generation",
          "creationTimestamp",
          "deletionTimestamp",
          "deletionGracePeriodSeconds",
          "labels",
          "annotations",
          "ownerReferences",
          "finalizers",
          "managedFields");

  private UnknownFields() {}

  /** Drops the undeclared fields of {@code object} in place; returns their paths, sorted. */
  static List<String> prune(ObjectNode object, Schema root) {
    List<String> unknown = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey();
      if (key.equals("apiVersion") || key.equals("kind")) {
        continue;
      }
      if (key.equals("metadata")) {
        pruneMetadata(e.getValue(), unknown);
        continue;
      }
      Schema property = root.property(key);
      if (property != null) {
        prune(e.getValue(), property, key, unknown);
      } else if (!root.preservesUnknownFields()) {
        unknown.add(key);
        it.remove();
      }
    }
    unknown.sort(null);
    return unknown;
  }

  private static void pruneMetadata(JsonNode metadata, List<String> unknown) {
    if (!metadata.isObject()) {
      return;
    }
    for (Iterator<String> it = metadata.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!OBJECT_META.contains(key)) {
        unknown.add("metadata." + key);
        it.remove();
      }
    }
  }

  private static void prune(JsonNode value, Schema schema, String path, List<String> unknown) {
    if (schema != null && schema.preservesUnknownFields()) {
      pruneDeclared(value, schema, path, unknown);
      return;
    }
    if (value.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String child = path + "." + e.getKey();
        Schema property = schema == null ? null : schema.property(e.getKey());
        if (property != null) {
          prune(e.getValue(), property, child, unknown);
        } else if (schema != null && schema.hasAdditionalProperties()) {
          prune(e.getValue(), schema.additionalProperties(), child, unknown);
        } else {
          unknown.add(child);
          it.remove();
        }
      }
    } else if (value.isArray()) {
      for (int i = 0; i < value.size(); i++) {
        prune(value.get(i), schema == null ? null : schema.items(), path + "[" + i + "]", unknown);
      }
    }
  }

  /** Under preserve-unknown-fields: undeclared fields stay, declared ones are still pruned. */
  private static void pruneDeclared(
      JsonNode value, Schema schema, String path, List<String> unknown) {
    if (value.isObject()) {
      value
          .fields()
          .forEachRemaining(
              e -> {
                Schema property = schema.property(e.getKey());
                String child = path + "." + e.getKey();
                if (property != null) {
                  prune(e.getValue(), property, child, unknown);
                } else if (schema.additionalProperties() != null) {
                  prune(e.getValue(), schema.additionalProperties(), child, unknown);
                }
              });
    } else if (value.isArray() && schema.items() != null) {
      for (int i = 0; i < value.size(); i++) {
        pruneDeclared(value.get(i), schema.items(), path + "[" + i + "]", unknown);
      }
    }
  }
}
