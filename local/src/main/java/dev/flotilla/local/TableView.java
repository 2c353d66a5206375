package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Server-side printing: what a real API server returns when kubectl asks for {@code as=Table}.
 * Custom resources get their CRD's printer columns; pods and deployments the columns kubectl users
 * expect; everything else name and age.
 */
final class TableView {
  private static final ObjectMapper JSON = new ObjectMapper();

  record Column(String name, String type, String jsonPath, int priority) {}

  private TableView() {}

  static List<Column> columnsFor(String plural, CustomResourceDefinition crd, String version) {
    List<Column> columns = new ArrayList<>();
    columns.add(new Column("Name", "string", ".metadata.name", 0));
    if (crd != null) {
      List<CustomResourceColumnDefinition> printer =
          crd.getSpec().getVersions().stream()
              .filter(v -> v.getName().equals(version))
              .findFirst()
              .map(v -> v.getAdditionalPrinterColumns())
              .orElse(null);
      if (printer == null || printer.isEmpty()) {
        columns.add(new Column("Age", "date", ".metadata.creationTimestamp", 0));
      } else {
        printer.forEach(
            c ->
                columns.add(
                    new Column(
                        c.getName(),
                        c.getType(),
                        c.getJsonPath(),
                        c.getPriority() == null ? 0 : c.getPriority())));
      }
      return columns;
    }
    switch (plural) {
      case "pods" -> {
        columns.add(new Column("Ready", "string", "#ready", 0));
        columns.add(new Column("Status", "string", ".status.phase", 0));
        columns.add(new Column("Age", "date", ".metadata.creationTimestamp", 0));
        columns.add(new Column("IP", "string", ".status.podIP", 1));
      }
      case "deployments" -> {
        columns.add(new Column("Ready", "string", "#deploymentReady", 0));
        columns.add(new Column("Up-to-date", "integer", ".status.updatedReplicas", 0));
        columns.add(new Column("Available", "integer", ".status.availableReplicas", 0));
        columns.add(new Column("Age", "date", ".metadata.creationTimestamp", 0));
      }
      default -> columns.add(new Column("Age", "date", ".metadata.creationTimestamp", 0));
    }
    return columns;
  }

  /** {@code body} is a list or a single object as the store returned it. */
  static String toTable(String body, List<Column> columns) {
    try {
      JsonNode node = JSON.readTree(body);
      List<JsonNode> items = new ArrayList<>();
      if (node.has("items")) {
        node.get("items").forEach(items::add);
      } else {
        items.add(node);
      }
      ObjectNode table = JSON.createObjectNode();
      table.put("kind", "Table");
      table.put("apiVersion", "meta.k8s.io/v1");
      ObjectNode meta = table.putObject("metadata");
      if (node.path("metadata").has("resourceVersion")) {
        meta.set("resourceVersion", node.path("metadata").get("resourceVersion"));
      }
      ArrayNode defs = table.putArray("columnDefinitions");
      for (Column c : columns) {
        ObjectNode d = defs.addObject();
        d.put("name", c.name());
        d.put("type", c.type().equals("date") ? "string" : c.type());
        d.put("format", c.name().equals("Name") ? "name" : "");
        d.put("description", "");
        d.put("priority", c.priority());
      }
      ArrayNode rows = table.putArray("rows");
      for (JsonNode item : items) {
        ObjectNode row = rows.addObject();
        ArrayNode cells = row.putArray("cells");
        for (Column c : columns) {
          cells.add(cell(item, c));
        }
        ObjectNode object = row.putObject("object");
        object.put("kind", "PartialObjectMetadata");
        object.put("apiVersion", "meta.k8s.io/v1");
        object.set("metadata", item.path("metadata"));
      }
      return JSON.writeValueAsString(table);
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot render a table from " + body, e);
    }
  }

  private static JsonNode cell(JsonNode item, Column c) {
    switch (c.jsonPath()) {
      case "#ready" -> {
        JsonNode statuses = item.path("status").path("containerStatuses");
        int ready = 0;
        for (JsonNode s : statuses) {
          ready += s.path("ready").asBoolean() ? 1 : 0;
        }
        return JSON.getNodeFactory()
            .textNode(ready + "/" + item.path("spec").path("containers").size());
      }
      case "#deploymentReady" -> {
        return JSON.getNodeFactory()
            .textNode(
                item.path("status").path("readyReplicas").asInt(0)
                    + "/"
                    + item.path("spec").path("replicas").asInt(1));
      }
      default -> {
        JsonNode value = select(item, c.jsonPath());
        if (value == null || value.isMissingNode() || value.isNull()) {
          return JSON.getNodeFactory().nullNode();
        }
        if (c.type().equals("date")) {
          return JSON.getNodeFactory().textNode(age(value.asText()));
        }
        return value;
      }
    }
  }

  private static final Pattern FILTER =
      Pattern.compile("\\[\\?\\(@\\.([\\w.]+)\\s*==\\s*[\"']([^\"']*)[\"']\\)\\]");
  private static final Pattern STEP =
      Pattern.compile("\\.([\\w-]+)|\\[(\\d+)]|" + FILTER.pattern());

  /**
   * The subset of JSONPath CRD printer columns use: fields, indexes and {@code [?(@.a=="b")]}
   * filters.
   */
  static JsonNode select(JsonNode root, String path) {
    String p = path.startsWith("{") ? path.substring(1, path.length() - 1) : path;
    Matcher m = STEP.matcher(p);
    JsonNode node = root;
    int at = 0;
    while (m.find()) {
      if (m.start() != at || node == null) {
        return null;
      }
      at = m.end();
      if (m.group(1) != null) {
        node = node.get(m.group(1));
      } else if (m.group(2) != null) {
        node = node.isArray() ? node.get(Integer.parseInt(m.group(2))) : null;
      } else {
        JsonNode found = null;
        if (node.isArray()) {
          for (JsonNode e : node) {
            JsonNode v = select(e, "." + m.group(3));
            if (v != null && m.group(4).equals(v.asText())) {
              found = e;
              break;
            }
          }
        }
        node = found;
      }
    }
    return at == p.length() ? node : null;
  }

  /** kubectl's short human durations: 45s, 3m12s, 17m, 5h3m, 20h, 3d. */
  static String age(String timestamp) {
    try {
      Duration d = Duration.between(Instant.parse(timestamp), Instant.now());
      long s = Math.max(0, d.getSeconds());
      if (s < 120) {
        return s + "s";
      }
      long m = s / 60;
      if (m < 10) {
        return m + "m" + (s % 60) + "s";
      }
      if (m < 180) {
        return m + "m";
      }
      long h = m / 60;
      if (h < 8) {
        return h + "h" + (m % 60) + "m";
      }
      return h < 48 ? h + "h" : (h / 24) + "d";
    } catch (RuntimeException e) {
      return timestamp;
    }
  }
}
