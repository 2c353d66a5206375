package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * The OpenAPI v3 documents ({@code /openapi/v3} and one per group version) kubectl reads.
 *
 * <p>A CRD's group version is published the way kube-apiserver publishes it: its kinds' schemas in
 * {@code components.schemas} under the reversed group ({@code
 * dev.flotilla.v1alpha1.ModelDeployment}, with {@code apiVersion}, {@code kind} and {@code
 * metadata} added and tagged with {@code x-kubernetes-group-version-kind}), and the operations on
 * its paths, each tagged with its kind. {@code kubectl explain md.spec} finds the kind through the
 * operations and walks the schema.
 *
 * <p>A built-in group version gets only what kubectl's default {@code --validate=strict} asks: a
 * PATCH operation per kind that names the {@code fieldValidation} query parameter, so kubectl
 * leaves field validation to the server instead of downloading the full schema. No schemas: the
 * in-memory server does not validate built-in kinds, and kubectl falls back to its built-in
 * knowledge of them.
 */
final class OpenApiV3 {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
  private static final String LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
  private static final String CONVENTIONS =
      "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md";

  private OpenApiV3() {}

  /** {@code /openapi/v3}: one entry per served group version. */
  static String root(List<CustomResourceDefinition> crds) {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode paths = root.putObject("paths");
    paths.putObject("api/v1").put("serverRelativeURL", "/openapi/v3/api/v1");
    Discovery.groups(crds)
        .getGroups()
        .forEach(
            g ->
                g.getVersions()
                    .forEach(
                        v ->
                            paths
                                .putObject("apis/" + v.getGroupVersion())
                                .put(
                                    "serverRelativeURL",
                                    "/openapi/v3/apis/" + v.getGroupVersion())));
    return root.toString();
  }

  /** {@code /openapi/v3/apis/<group>/<version>} (or {@code api/v1}), empty when not served. */
  static Optional<String> groupVersion(
      String group, String version, List<CustomResourceDefinition> crds) {
    Optional<APIResourceList> resources = Discovery.resources(group, version, crds);
    if (resources.isEmpty()) {
      return Optional.empty();
    }
    ObjectNode doc = JSON.createObjectNode();
    doc.put("openapi", "3.0.0");
    doc.putObject("info").put("title", "Flotilla local API server").put("version", "v1.32.0");
    ObjectNode paths = doc.putObject("paths");
    ObjectNode schemas = doc.putObject("components").putObject("schemas");
    String prefix = group.isEmpty() ? "/api/v1" : "/apis/" + group + "/" + version;
    boolean customResources = false;
    for (APIResource r : resources.get().getResources()) {
      if (r.getName().contains("/")) {
        continue;
      }
      Optional<CustomResourceDefinitionVersion> served = served(crds, group, r.getName(), version);
      if (served.isPresent()) {
        customResource(paths, schemas, prefix, group, version, r, served.get());
        customResources = true;
      } else {
        fieldValidationOnly(paths, prefix, group, version, r);
      }
    }
    if (customResources) {
      schemas.set(OBJECT_META, objectMeta());
      schemas.set(LIST_META, listMeta());
    }
    return Optional.of(doc.toString());
  }

  private static Optional<CustomResourceDefinitionVersion> served(
      List<CustomResourceDefinition> crds, String group, String plural, String version) {
    return crds.stream()
        .filter(
            c ->
                c.getSpec().getGroup().equals(group)
                    && c.getSpec().getNames().getPlural().equals(plural))
        .flatMap(c -> c.getSpec().getVersions().stream())
        .filter(v -> v.getName().equals(version) && v.getSchema() != null)
        .findFirst();
  }

  // --- custom resources ---

  private static void customResource(
      ObjectNode paths,
      ObjectNode schemas,
      String prefix,
      String group,
      String version,
      APIResource r,
      CustomResourceDefinitionVersion served) {
    String kind = r.getKind();
    String name = reversed(group) + "." + version + "." + kind;
    schemas.set(name, kindSchema(served, group, version, kind));
    schemas.set(name + "List", listSchema(name, group, version, kind));

    boolean namespaced = Boolean.TRUE.equals(r.getNamespaced());
    String collection = prefix + (namespaced ? "/namespaces/{namespace}/" : "/") + r.getName();
    String object = collection + "/{name}";
    ObjectNode gvk =
        JSON.createObjectNode().put("group", group).put("version", version).put("kind", kind);

    if (namespaced) {
      ObjectNode all = paths.putObject(prefix + "/" + r.getName());
      operation(all, "get", "list", gvk, name + "List", List.of());
    }
    ObjectNode list = paths.putObject(collection);
    List<String> scope = namespaced ? List.of("namespace") : List.of();
    operation(list, "get", "list", gvk, name + "List", scope);
    operation(list, "post", "post", gvk, name, scope);

    List<String> objectParams = namespaced ? List.of("name", "namespace") : List.of("name");
    ObjectNode item = paths.putObject(object);
    operation(item, "get", "get", gvk, name, objectParams);
    operation(item, "put", "put", gvk, name, objectParams);
    operation(item, "patch", "patch", gvk, name, objectParams);
    operation(item, "delete", "delete", gvk, null, objectParams);
    if (served.getSubresources() != null && served.getSubresources().getStatus() != null) {
      ObjectNode status = paths.putObject(object + "/status");
      operation(status, "get", "get", gvk, name, objectParams);
      operation(status, "put", "put", gvk, name, objectParams);
      operation(status, "patch", "patch", gvk, name, objectParams);
    }
  }

  /** The CRD's schema with the fields every object has, tagged with its kind. */
  private static ObjectNode kindSchema(
      CustomResourceDefinitionVersion served, String group, String version, String kind) {
    JsonNode crdSchema =
        Serialization.jsonMapper().valueToTree(served.getSchema().getOpenAPIV3Schema());
    ObjectNode schema = JSON.createObjectNode();
    crdSchema
        .fields()
        .forEachRemaining(
            e -> {
              if (!e.getKey().equals("properties")) {
                schema.set(e.getKey(), e.getValue());
              }
            });
    ObjectNode properties = schema.putObject("properties");
    standardFields(
        properties,
        OBJECT_META,
        "Standard object's metadata. More info: " + CONVENTIONS + "#metadata");
    crdSchema
        .path("properties")
        .fields()
        .forEachRemaining(e -> properties.set(e.getKey(), e.getValue()));
    schema.set("x-kubernetes-group-version-kind", gvkList(group, version, kind));
    return schema;
  }

  private static ObjectNode listSchema(
      String itemSchema, String group, String version, String kind) {
    ObjectNode schema = JSON.createObjectNode();
    schema.put("description", kind + "List is a list of " + kind);
    schema.put("type", "object");
    schema.putArray("required").add("items");
    ObjectNode properties = schema.putObject("properties");
    standardFields(
        properties,
        LIST_META,
        "Standard list metadata. More info: " + CONVENTIONS + "#types-kinds");
    ObjectNode items = properties.putObject("items");
    items.put("description", "List of " + kind.toLowerCase() + "s.");
    items.put("type", "array");
    items.putObject("items").put("$ref", "#/components/schemas/" + itemSchema);
    schema.set("x-kubernetes-group-version-kind", gvkList(group, version, kind + "List"));
    return schema;
  }

  private static void standardFields(
      ObjectNode properties, String metaSchema, String metaDescription) {
    properties
        .putObject("apiVersion")
        .put(
            "description",
            "APIVersion defines the versioned schema of this representation of an object. Servers"
                + " should convert recognized schemas to the latest internal value, and may reject"
                + " unrecognized values. More info: "
                + CONVENTIONS
                + "#resources")
        .put("type", "string");
    properties
        .putObject("kind")
        .put(
            "description",
            "Kind is a string value representing the REST resource this object represents. Servers"
                + " may infer this from the endpoint the client submits requests to. Cannot be"
                + " updated. In CamelCase. More info: "
                + CONVENTIONS
                + "#types-kinds")
        .put("type", "string");
    ObjectNode metadata = properties.putObject("metadata");
    metadata.putArray("allOf").addObject().put("$ref", "#/components/schemas/" + metaSchema);
    metadata.put("description", metaDescription);
  }

  private static void operation(
      ObjectNode path,
      String method,
      String action,
      ObjectNode gvk,
      String responseSchema,
      List<String> pathParams) {
    ObjectNode op = path.putObject(method);
    op.put("x-kubernetes-action", action);
    op.set("x-kubernetes-group-version-kind", gvk.deepCopy());
    ArrayNode params = op.putArray("parameters");
    for (String p : pathParams) {
      ObjectNode param = params.addObject().put("name", p).put("in", "path").put("required", true);
      param.putObject("schema").put("type", "string");
    }
    if (method.equals("post") || method.equals("put") || method.equals("patch")) {
      for (String q : List.of("dryRun", "fieldManager", "fieldValidation")) {
        params
            .addObject()
            .put("name", q)
            .put("in", "query")
            .putObject("schema")
            .put("type", "string");
      }
      ObjectNode content = op.putObject("requestBody").put("required", true).putObject("content");
      List<String> types =
          method.equals("patch")
              ? List.of(
                  "application/json-patch+json",
                  "application/merge-patch+json",
                  "application/apply-patch+yaml")
              : List.of("application/json", "application/yaml");
      for (String type : types) {
        ObjectNode schema = content.putObject(type).putObject("schema");
        if (method.equals("patch")) {
          schema.put("type", "object");
        } else {
          schema.put("$ref", "#/components/schemas/" + responseSchema);
        }
      }
    }
    ObjectNode ok = op.putObject("responses").putObject("200").put("description", "OK");
    if (responseSchema != null) {
      ok.putObject("content")
          .putObject("application/json")
          .putObject("schema")
          .put("$ref", "#/components/schemas/" + responseSchema);
    }
  }

  private static ArrayNode gvkList(String group, String version, String kind) {
    ArrayNode list = JSON.createArrayNode();
    list.addObject().put("group", group).put("kind", kind).put("version", version);
    return list;
  }

  /** {@code flotilla.dev} → {@code dev.flotilla}, how kube-apiserver names a CRD's schemas. */
  private static String reversed(String group) {
    List<String> parts = new ArrayList<>(List.of(group.split("\\.")));
    Collections.reverse(parts);
    return String.join(".", parts);
  }

  private static ObjectNode objectMeta() {
    ObjectNode meta = JSON.createObjectNode();
    meta.put(
        "description",
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects"
            + " users must create.");
    meta.put("type", "object");
    ObjectNode p = meta.putObject("properties");
    stringMap(
        p,
        "annotations",
        "Annotations is an unstructured key value map stored with a"
            + " resource that may be set by external tools to store and retrieve arbitrary metadata.");
    string(p, "creationTimestamp", "Time at which this object was created, in RFC 3339.");
    string(
        p,
        "deletionTimestamp",
        "Time at which this object will be deleted, in RFC 3339; set"
            + " by the server when a graceful deletion is requested.");
    p.putObject("finalizers")
        .put("description", "Must be empty before the object is deleted from the registry.")
        .put("type", "array")
        .putObject("items")
        .put("type", "string");
    string(
        p,
        "generateName",
        "Prefix the server uses to generate a unique name when name is not" + " provided.");
    p.putObject("generation")
        .put(
            "description",
            "A sequence number representing a specific generation of the desired"
                + " state. Populated by the system. Read-only.")
        .put("type", "integer")
        .put("format", "int64");
    stringMap(
        p,
        "labels",
        "Map of string keys and values that can be used to organize and"
            + " categorize (scope and select) objects.");
    string(p, "name", "Name must be unique within a namespace. Required when creating resources.");
    string(p, "namespace", "Namespace defines the space within which each name must be unique.");
    p.putObject("ownerReferences")
        .put(
            "description",
            "List of objects depended by this object. If ALL objects in the list"
                + " have been deleted, this object will be garbage collected.")
        .put("type", "array")
        .putObject("items")
        .put("type", "object");
    string(
        p,
        "resourceVersion",
        "An opaque value that represents the internal version of this"
            + " object, used for optimistic concurrency and watches. Read-only.");
    string(p, "uid", "UID is the unique in time and space value for this object. Read-only.");
    return meta;
  }

  private static ObjectNode listMeta() {
    ObjectNode meta = JSON.createObjectNode();
    meta.put("description", "ListMeta describes metadata that synthetic resources must have.");
    meta.put("type", "object");
    ObjectNode p = meta.putObject("properties");
    string(p, "continue", "Set when the list is limited; pass it to the next request for more.");
    string(p, "resourceVersion", "The version of the list, for watches. Read-only.");
    return meta;
  }

  private static void string(ObjectNode properties, String name, String description) {
    properties.putObject(name).put("description", description).put("type", "string");
  }

  private static void stringMap(ObjectNode properties, String name, String description) {
    ObjectNode map =
        properties.putObject(name).put("description", description).put("type", "object");
    map.putObject("additionalProperties").put("type", "string").put("default", "");
  }

  // --- built-in kinds ---

  private static void fieldValidationOnly(
      ObjectNode paths, String prefix, String group, String version, APIResource r) {
    String path =
        prefix
            + (Boolean.TRUE.equals(r.getNamespaced()) ? "/namespaces/{namespace}/" : "/")
            + r.getName()
            + "/{name}";
    ObjectNode patch = paths.putObject(path).putObject("patch");
    patch
        .putObject("x-kubernetes-group-version-kind")
        .put("group", group)
        .put("version", version)
        .put("kind", r.getKind());
    ObjectNode param = patch.putArray("parameters").addObject();
    param.put("name", "fieldValidation");
    param.put("in", "query");
    param.putObject("schema").put("type", "string");
    patch.putObject("responses").putObject("200").put("description", "OK");
  }
}
