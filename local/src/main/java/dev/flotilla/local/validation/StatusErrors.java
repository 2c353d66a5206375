package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The {@code Status} bodies and warnings kube-apiserver answers a rejected custom-resource write
 * with, worded as it words them. kubectl prints them from these fields: for a 422 it builds {@code
 * The <Kind> "<name>" is invalid: <field>: <message>} from {@code details}, for the rest it prints
 * {@code Error from server (<reason>): <message>}.
 */
public final class StatusErrors {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private StatusErrors() {}

  /** An error's status code, with the body that says why. */
  public record Rejection(int code, ObjectNode status) {}

  /**
   * 422 {@code Invalid}: {@code errors.NewInvalid}. The message aggregates the errors (duplicates
   * dropped, brackets when more than one): {@code ModelDeployment.flotilla.dev "m" is invalid:
   * spec.model: Required value}.
   */
  public static Rejection invalid(String kind, String group, String name, List<FieldError> errors) {
    String qualifiedKind = group.isEmpty() ? kind : kind + "." + group;
    Set<String> messages = new LinkedHashSet<>();
    errors.forEach(e -> messages.add(e.toString()));
    String aggregate =
        messages.size() == 1
            ? messages.iterator().next()
            : messages.stream().collect(Collectors.joining(", ", "[", "]"));
    ObjectNode details = NODES.objectNode();
    putIfNotEmpty(details, "name", name);
    putIfNotEmpty(details, "group", group);
    putIfNotEmpty(details, "kind", kind);
    return new Rejection(
        422,
        status(
            422,
            "Invalid",
            qualifiedKind + " " + GoText.quote(name) + " is invalid: " + aggregate,
            causes(details, errors)));
  }

  /**
   * 400 {@code BadRequest} for undeclared fields under {@code fieldValidation=Strict} on create and
   * update: {@code ModelDeployment in version "v1alpha1" cannot be handled as a ModelDeployment:
   * strict decoding error: unknown field "spec.foo"}.
   */
  public static Rejection strictDecoding(String kind, String version, List<String> unknown) {
    return new Rejection(
        400,
        status(
            400,
            "BadRequest",
            kind
                + " in version "
                + GoText.quote(version)
                + " cannot be handled as a "
                + kind
                + ": "
                + strictDecodingError(unknown)));
  }

  /**
   * 422 for undeclared fields under {@code fieldValidation=Strict} on a JSON or merge patch: the
   * patched object fails to decode, which kube-apiserver reports as an invalid {@code patch} of no
   * kind and no name.
   */
  public static Rejection patchStrictDecoding(JsonNode patched, List<String> unknown) {
    FieldError error =
        FieldError.invalid("patch", sortedJson(patched).toString(), strictDecodingError(unknown));
    return new Rejection(
        422,
        status(
            422,
            "Invalid",
            " \"\" is invalid: " + error,
            causes(NODES.objectNode(), List.of(error))));
  }

  /**
   * Server-side apply of undeclared fields, whatever {@code fieldValidation} says: the apply
   * configuration does not convert to the schema's type, an error kube-apiserver reports with no
   * reason and code 500.
   */
  public static Rejection applyUndeclaredFields(
      String group, String version, String kind, List<String> unknown) {
    List<String> paths =
        unknown.stream().map(p -> "." + p + ": field not declared in schema").toList();
    String errors = paths.size() == 1 ? paths.get(0) : "errors:\n  " + String.join("\n  ", paths);
    return new Rejection(
        500,
        status(
            500,
            "",
            "failed to create typed patch object ("
                + group
                + "/"
                + version
                + ", Kind="
                + kind
                + "): "
                + errors));
  }

  /**
   * 409 {@code Conflict} for a write whose resourceVersion is not the stored one: {@code
   * errors.NewConflict} with the optimistic-lock message.
   */
  public static Rejection conflict(String group, String plural, String name) {
    String resource = group.isEmpty() ? plural : plural + "." + group;
    ObjectNode details = NODES.objectNode().put("name", name);
    putIfNotEmpty(details, "group", group);
    details.put("kind", plural);
    return new Rejection(
        409,
        status(
            409,
            "Conflict",
            "Operation cannot be fulfilled on "
                + resource
                + " "
                + GoText.quote(name)
                + ": the object has been modified; please apply your changes to the latest version"
                + " and try again",
            details));
  }

  /**
   * 422 for an update without a resourceVersion, which custom resources do not allow: named by
   * resource, not kind ({@code modeldeployments.flotilla.dev "m" is invalid:
   * metadata.resourceVersion: Invalid value: 0x0: must be specified for an update}).
   */
  public static Rejection resourceVersionRequired(String group, String plural, String name) {
    return invalid(
        plural,
        group,
        name,
        List.of(
            FieldError.invalid(
                "metadata.resourceVersion",
                new FieldError.Printed("0x0"),
                "must be specified for an update")));
  }

  /** 404 for a write to an object that does not exist: {@code errors.NewNotFound}. */
  public static Rejection notFound(String group, String plural, String name) {
    String resource = group.isEmpty() ? plural : plural + "." + group;
    ObjectNode details = NODES.objectNode().put("name", name);
    putIfNotEmpty(details, "group", group);
    details.put("kind", plural);
    return new Rejection(
        404, status(404, "NotFound", resource + " " + GoText.quote(name) + " not found", details));
  }

  /** 415 for a strategic merge patch, which custom resources do not take. */
  public static Rejection strategicMergePatchUnsupported() {
    return new Rejection(
        415,
        status(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include:"
                + " application/json-patch+json, application/merge-patch+json,"
                + " application/apply-patch+yaml"));
  }

  /** 422 for a JSON patch that does not apply: kube-apiserver does not say which operation. */
  public static Rejection jsonPatchFailed() {
    return new Rejection(
        422,
        status(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            NODES.objectNode()));
  }

  /** 400 for a body that is not an object of the kind. */
  public static Rejection badRequest(String message) {
    return new Rejection(400, status(400, "BadRequest", message));
  }

  /**
   * The {@code Warning} headers for undeclared fields under {@code fieldValidation=Warn} (the
   * default): {@code 299 - "unknown field \"spec.foo\""}, which kubectl prints as {@code Warning:
   * unknown field "spec.foo"}.
   */
  public static List<String> unknownFieldWarnings(List<String> unknown) {
    return unknown.stream().map(p -> "299 - " + warningText(unknownField(p))).toList();
  }

  /** The quoted-string of a Warning header: only double quotes and backslashes are escaped. */
  private static String warningText(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static String strictDecodingError(List<String> unknown) {
    return "strict decoding error: "
        + unknown.stream().map(StatusErrors::unknownField).collect(Collectors.joining(", "));
  }

  /** {@code unknown field "<path>"}: the path in plain double quotes, not Go-quoted. */
  private static String unknownField(String path) {
    return "unknown field \"" + path + "\"";
  }

  /** A {@code metav1.Status} with its fields in the order kube-apiserver writes them. */
  private static ObjectNode status(int code, String reason, String message, ObjectNode details) {
    ObjectNode status = NODES.objectNode();
    status.put("kind", "Status");
    status.put("apiVersion", "v1");
    status.putObject("metadata");
    status.put("status", "Failure");
    status.put("message", message);
    putIfNotEmpty(status, "reason", reason);
    if (details != null) {
      status.set("details", details);
    }
    status.put("code", code);
    return status;
  }

  private static ObjectNode status(int code, String reason, String message) {
    return status(code, reason, message, null);
  }

  private static ObjectNode causes(ObjectNode details, List<FieldError> errors) {
    ArrayNode causes = details.putArray("causes");
    for (FieldError e : errors) {
      causes
          .addObject()
          .put("reason", e.type().reason())
          .put("message", e.body())
          .put("field", e.field());
    }
    return details;
  }

  private static void putIfNotEmpty(ObjectNode node, String field, String value) {
    if (!value.isEmpty()) {
      node.put(field, value);
    }
  }

  /** Go's encoding/json writes a decoded object with its keys sorted. */
  private static JsonNode sortedJson(JsonNode node) {
    if (node.isObject()) {
      Map<String, JsonNode> fields = new TreeMap<>();
      node.fields().forEachRemaining(e -> fields.put(e.getKey(), sortedJson(e.getValue())));
      ObjectNode sorted = NODES.objectNode();
      fields.forEach(sorted::set);
      return sorted;
    }
    if (node.isArray()) {
      ArrayNode sorted = NODES.arrayNode();
      node.forEach(item -> sorted.add(sortedJson(item)));
      return sorted;
    }
    return node;
  }
}
