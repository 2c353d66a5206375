package dev.flotilla.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import java.util.List;
import java.util.Optional;

/**
 * Just enough OpenAPI v3 for kubectl's default {@code --validate=strict}: kubectl asks the server's
 * OpenAPI v3 documents whether PATCH takes the {@code fieldValidation} query parameter and, when it
 * does, leaves validation to the server instead of downloading the full schema. Each group version
 * gets a document with one PATCH operation per kind that names the parameter. (The in-memory server
 * does not validate fields, so unknown fields are kept, not refused.)
 */
final class OpenApiStub {
  private static final ObjectMapper JSON = new ObjectMapper();

  private OpenApiStub() {}

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
    String prefix = group.isEmpty() ? "/api/v1" : "/apis/" + group + "/" + version;
    for (APIResource r : resources.get().getResources()) {
      if (r.getName().contains("/")) {
        continue;
      }
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
    doc.putObject("components").putObject("schemas");
    return Optional.of(doc.toString());
  }
}
