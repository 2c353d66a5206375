package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What kube-apiserver does with a custom resource of one CRD version between reading a request and
 * storing the object, in its order: {@link #decode} prunes undeclared fields (reporting them for
 * {@code fieldValidation}), drops non-nullable nulls and fills schema defaults; {@link #validate}
 * checks the name, the OpenAPI v3 schema and then the CEL rules, which run only when the schema
 * checks found nothing that makes them meaningless (a missing required field, a wrong type, an
 * unsupported enum value, something too long or too many): then kube-apiserver reports that some
 * rules were not checked, and so does this.
 */
public final class CrdValidator {
  private static final ObjectMapper YAML = new YAMLMapper();

  /** {@code validation.NameIsDNSSubdomain}, the rule for custom resource names. */
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private final String group;
  private final String kind;
  private final String version;
  private final boolean statusSubresource;
  private final Schema schema;

  private CrdValidator(
      String group, String kind, String version, boolean statusSubresource, JsonNode schema) {
    this.group = group;
    this.kind = kind;
    this.version = version;
    this.statusSubresource = statusSubresource;
    this.schema = new Schema(schema);
  }

  /** The validator of {@code version} of a CRD (as JSON), empty when it does not serve it. */
  public static Optional<CrdValidator> of(JsonNode crd, String version) {
    JsonNode spec = crd.path("spec");
    for (JsonNode v : spec.path("versions")) {
      if (v.path("name").asText().equals(version)) {
        return Optional.of(
            new CrdValidator(
                spec.path("group").asText(),
                spec.path("names").path("kind").asText(),
                version,
                v.path("subresources").has("status"),
                v.path("schema").path("openAPIV3Schema")));
      }
    }
    return Optional.empty();
  }

  /** The validator of the first version of a CRD YAML file, such as those in {@code crds/}. */
  public static CrdValidator load(Path crdYaml) throws IOException {
    JsonNode crd = YAML.readTree(crdYaml.toFile());
    String version = crd.path("spec").path("versions").path(0).path("name").asText();
    return of(crd, version).orElseThrow();
  }

  public String group() {
    return group;
  }

  public String kind() {
    return kind;
  }

  public String version() {
    return version;
  }

  /** With a status subresource, writes to the object leave status alone and vice versa. */
  public boolean hasStatusSubresource() {
    return statusSubresource;
  }

  /** An object as decoded: undeclared fields dropped (their paths listed), defaults filled in. */
  public record Decoded(ObjectNode object, List<String> unknownFields) {}

  /** Decodes a copy of {@code body} as kube-apiserver decodes a request's custom resource. */
  public Decoded decode(ObjectNode body) {
    ObjectNode object = body.deepCopy();
    List<String> unknown = UnknownFields.prune(object, schema);
    Defaults.dropNonNullableNulls(object, schema);
    Defaults.apply(object, schema);
    return new Decoded(object, unknown);
  }

  /**
   * Every error kube-apiserver would report for {@code object}, in its order; empty when valid.
   *
   * @param old the stored object this update replaces, or null on create (transition rules, those
   *     that name {@code oldSelf}, run only on update)
   */
  public List<FieldError> validate(JsonNode object, JsonNode old) {
    List<FieldError> errors = new ArrayList<>(name(object.path("metadata")));
    errors.addAll(OpenApiChecks.validate(schema, object));
    if (errors.stream().anyMatch(CrdValidator::blocksRules)) {
      errors.add(
          FieldError.invalid(
              "<nil>",
              null,
              "some validation rules were not checked because the object was invalid; correct"
                  + " the existing errors to complete validation"));
    } else {
      errors.addAll(CelRules.validate(schema, object, old));
    }
    return errors;
  }

  private static boolean blocksRules(FieldError e) {
    return switch (e.type()) {
      case NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID -> true;
      default -> false;
    };
  }

  private static List<FieldError> name(JsonNode metadata) {
    String name = metadata.path("name").asText("");
    if (name.isEmpty()) {
      return metadata.path("generateName").asText("").isEmpty()
          ? List.of(FieldError.required("metadata.name", "name or generateName is required"))
          : List.of();
    }
    List<FieldError> errors = new ArrayList<>();
    if (name.length() > 253) {
      errors.add(FieldError.invalid("metadata.name", name, "must be no more than 253 characters"));
    }
    if (!DNS1123_SUBDOMAIN.matcher(name).matches()) {
      errors.add(
          FieldError.invalid(
              "metadata.name",
              name,
              "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
                  + " '-' or '.', and must start and end with an alphanumeric character (e.g."
                  + " 'example.com', regex used for validation is"
                  + " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
    }
    return errors;
  }
}
