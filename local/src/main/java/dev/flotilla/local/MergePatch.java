package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * JSON merge patch (RFC 7386), and the approximation of a strategic merge patch local mode makes:
 * directives ({@code $patch}, {@code $setElementOrder/…}, …) are dropped and lists whose items all
 * have a {@code name} merge item by item on it (containers, env, ports, volumes); other lists are
 * replaced.
 */
final class MergePatch {
  private MergePatch() {}

  static JsonNode apply(JsonNode target, JsonNode patch, boolean strategic) {
    if (!patch.isObject()) {
      return strategic && patch.isArray() && target != null && target.isArray()
          ? mergeNamedLists((ArrayNode) target, (ArrayNode) patch)
          : patch.deepCopy();
    }
    ObjectNode result =
        target != null && target.isObject()
            ? ((ObjectNode) target).deepCopy()
            : JsonNodeFactory.instance.objectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = patch.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (strategic && e.getKey().startsWith("$")) {
        continue;
      }
      if (e.getValue().isNull()) {
        result.remove(e.getKey());
      } else {
        result.set(e.getKey(), apply(result.get(e.getKey()), e.getValue(), strategic));
      }
    }
    return result;
  }

  private static JsonNode mergeNamedLists(ArrayNode target, ArrayNode patch) {
    if (!allNamed(target) || !allNamed(patch)) {
      return patch.deepCopy();
    }
    Map<String, JsonNode> byName = new LinkedHashMap<>();
    target.forEach(item -> byName.put(item.get("name").asText(), item));
    patch.forEach(
        item -> {
          String name = item.get("name").asText();
          if ("delete".equals(item.path("$patch").asText())) {
            byName.remove(name);
          } else {
            byName.put(name, apply(byName.get(name), item, true));
          }
        });
    ArrayNode merged = JsonNodeFactory.instance.arrayNode();
    byName.values().forEach(merged::add);
    return merged;
  }

  private static boolean allNamed(ArrayNode list) {
    for (JsonNode item : list) {
      if (!item.isObject() || !item.path("name").isTextual()) {
        return false;
      }
    }
    return true;
  }
}
