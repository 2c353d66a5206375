package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionList;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceSubresourceScale;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Puts in front of the in-memory API server's CRUD store what kubectl needs and the store lacks:
 * discovery with short names and subresources, the {@code scale} subresource, server-side {@code
 * Table} printing, {@code pods/log} (from the node agent's log files), and strategic merge and
 * server-side apply patches, both approximated by a JSON merge patch (lists are replaced, not
 * merged by key). Writes to custom resources go through {@link CustomResourceWrites}, which
 * validates them against their CRD as a real API server does. Everything else goes to the store
 * unchanged.
 */
final class LocalApiDispatcher extends Dispatcher {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final YAMLMapper YAML = new YAMLMapper();
  private static final String CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  private static final Pattern GROUP_VERSION = Pattern.compile("/apis/([^/]+)/([^/]+)");
  private static final Pattern OBJECT =
      Pattern.compile(
          "/(?:api|apis/([^/]+))/([^/]+)(?:/namespaces/([^/]+))?/([^/]+)/([^/]+)(?:/(scale|log))?");
  private static final Pattern COLLECTION =
      Pattern.compile("/(?:api|apis/([^/]+))/([^/]+)(?:/namespaces/([^/]+))?/([^/]+)");

  private static final Pattern SECRETS =
      Pattern.compile("/api/v1/namespaces/[^/]+/secrets(/[^/]+)?");

  private final KubernetesMixedDispatcher store;
  private final java.util.function.Supplier<String> serverAddress;
  private final BiFunction<String, String, Path> podLog;
  private final CustomResourceWrites customResources;

  /**
   * @param podLog where the log of pod (namespace, name) is, for {@code kubectl logs}
   */
  LocalApiDispatcher(
      Map<ServerRequest, Queue<ServerResponse>> responses,
      java.util.function.Supplier<String> serverAddress,
      BiFunction<String, String, Path> podLog) {
    this.store = new KubernetesMixedDispatcher(responses);
    this.serverAddress = serverAddress;
    this.podLog = podLog;
    this.customResources = new CustomResourceWrites(store::dispatch, this::crds);
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    URI uri = URI.create(request.getPath());
    String path = uri.getRawPath().replaceAll("/+$", "");
    String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
    byte[] body = request.getBody() == null ? new byte[0] : request.getBody().getBytes();
    try {
      if (SECRETS.matcher(path).matches()
          && request.method() != HttpMethod.GET
          && body.length > 0) {
        body = foldStringData(body);
      }
      if (request.method() == HttpMethod.GET && !query.contains("watch=true")) {
        Optional<MockResponse> discovery = discovery(path);
        if (discovery.isPresent()) {
          return discovery.get();
        }
      }
      if (request.method() == HttpMethod.POST
          && path.startsWith("/apis/authorization.k8s.io/v1/selfsubject")) {
        return selfSubjectReview(body);
      }
      Matcher object = OBJECT.matcher(path);
      if (object.matches() && "scale".equals(object.group(6))) {
        return scale(request.method(), object, body, request.getHeader("Content-Type"));
      }
      if (object.matches() && "log".equals(object.group(6)) && request.method() == HttpMethod.GET) {
        return log(object.group(3), object.group(5), query);
      }
      if (request.method() == HttpMethod.POST
          || request.method() == HttpMethod.PUT
          || request.method() == HttpMethod.PATCH) {
        Optional<CustomResourceWrites.Target> target = customResources.target(path);
        if (target.isPresent()) {
          return customResources.write(request, target.get(), query, body);
        }
      }
      if (request.method() == HttpMethod.PATCH) {
        return patch(request, path, body);
      }
      MockResponse response =
          store.dispatch(copy(request, request.getPath(), request.getHeaders(), body));
      String accept = request.getHeader("Accept");
      if (request.method() == HttpMethod.GET
          && accept != null
          && accept.contains("as=Table")
          && response.code() == 200
          && !query.contains("watch=true")) {
        return table(path, response);
      }
      if (request.method() == HttpMethod.GET
          && response.code() == 200
          && !query.contains("watch=true")
          && COLLECTION.matcher(path).matches()
          && !OBJECT.matcher(path).matches()) {
        return typedList(path, response);
      }
      return response;
    } catch (RuntimeException | IOException e) {
      return status(500, "InternalError", e.toString());
    }
  }

  // --- discovery ---

  private Optional<MockResponse> discovery(String path) {
    Optional<?> document;
    if (path.equals("/api")) {
      document = Optional.of(Discovery.coreVersions(serverAddress.get()));
    } else if (path.equals("/apis")) {
      document = Optional.of(Discovery.groups(crds()));
    } else if (path.equals("/api/v1")) {
      document = Discovery.resources("", "v1", crds());
    } else if (GROUP_VERSION.matcher(path).matches()) {
      Matcher gv = GROUP_VERSION.matcher(path);
      gv.matches();
      document = Discovery.resources(gv.group(1), gv.group(2), crds());
    } else if (path.matches("/apis/[^/]+")) {
      document = Discovery.group(path.substring("/apis/".length()), crds());
    } else if (path.equals("/openapi/v3")) {
      return Optional.of(json(200, OpenApiV3.root(crds())));
    } else if (path.startsWith("/openapi/v3/")) {
      String[] gv = path.substring("/openapi/v3/".length()).split("/");
      Optional<String> doc =
          gv.length == 2 && gv[0].equals("api")
              ? OpenApiV3.groupVersion("", gv[1], crds())
              : gv.length == 3 ? OpenApiV3.groupVersion(gv[1], gv[2], crds()) : Optional.empty();
      return Optional.of(
          doc.map(d -> json(200, d))
              .orElseGet(() -> status(404, "NotFound", "no OpenAPI document at " + path)));
    } else if (path.startsWith("/openapi/")) {
      // No OpenAPI v2: clients fall back to their built-in knowledge of the types.
      return Optional.of(status(404, "NotFound", "the server serves no OpenAPI v2 document"));
    } else {
      return Optional.empty();
    }
    return Optional.of(
        document
            .map(d -> json(200, Serialization.asJson(d)))
            .orElseGet(
                () -> status(404, "NotFound", "the server could not find the requested resource")));
  }

  List<CustomResourceDefinition> crds() {
    MockResponse r = store.dispatch(request(HttpMethod.GET, CRDS, new byte[0], null));
    return Serialization.unmarshal(r.getBody().readUtf8(), CustomResourceDefinitionList.class)
        .getItems();
  }

  private Optional<CustomResourceDefinition> crd(String group, String plural) {
    return crds().stream()
        .filter(
            c ->
                c.getSpec().getGroup().equals(group)
                    && c.getSpec().getNames().getPlural().equals(plural))
        .findFirst();
  }

  // --- scale subresource ---

  private record ScalePaths(String spec, String status, String selector) {}

  private MockResponse scale(HttpMethod method, Matcher m, byte[] body, String contentType)
      throws IOException {
    String group = m.group(1) == null ? "" : m.group(1);
    String plural = m.group(4);
    String objectPath = m.group(0).substring(0, m.group(0).length() - "/scale".length());
    Optional<ScalePaths> paths = scalePaths(group, m.group(2), plural);
    if (paths.isEmpty()) {
      return status(404, "NotFound", plural + " has no scale subresource");
    }
    MockResponse current = store.dispatch(request(HttpMethod.GET, objectPath, new byte[0], null));
    if (current.code() != 200) {
      return current;
    }
    ObjectNode object = (ObjectNode) JSON.readTree(current.getBody().readUtf8());
    ObjectNode scale = scaleOf(object, paths.get());
    if (method == HttpMethod.GET) {
      return json(200, JSON.writeValueAsString(scale));
    }
    JsonNode desired;
    if (method == HttpMethod.PUT) {
      desired = JSON.readTree(body);
    } else if (method == HttpMethod.PATCH
        && contentType != null
        && contentType.contains("json-patch")) {
      desired = io.fabric8.zjsonpatch.JsonPatch.apply(JSON.readTree(body), scale);
    } else if (method == HttpMethod.PATCH) {
      desired = JSON.readerForUpdating(scale.deepCopy()).readValue(body);
    } else {
      return status(405, "MethodNotAllowed", method + " on scale");
    }
    JsonNode replicas = desired.path("spec").path("replicas");
    if (!replicas.isInt()) {
      return status(422, "Invalid", "spec.replicas must be an integer");
    }
    set(object, paths.get().spec(), replicas);
    Optional<CustomResourceWrites.Target> customResource = customResources.target(objectPath);
    MockResponse updated =
        customResource.isPresent()
            ? customResources.replace(customResource.get(), object)
            : store.dispatch(
                request(
                    HttpMethod.PUT,
                    objectPath,
                    JSON.writeValueAsBytes(object),
                    "application/json"));
    if (updated.code() != 200) {
      return updated;
    }
    return json(
        200,
        JSON.writeValueAsString(
            scaleOf((ObjectNode) JSON.readTree(updated.getBody().readUtf8()), paths.get())));
  }

  private Optional<ScalePaths> scalePaths(String group, String version, String plural) {
    if (group.equals("apps")
        && (plural.equals("deployments")
            || plural.equals("replicasets")
            || plural.equals("statefulsets"))) {
      return Optional.of(new ScalePaths(".spec.replicas", ".status.replicas", null));
    }
    return crd(group, plural)
        .flatMap(
            c ->
                c.getSpec().getVersions().stream()
                    .filter(
                        v ->
                            v.getName().equals(version)
                                && v.getSubresources() != null
                                && v.getSubresources().getScale() != null)
                    .findFirst())
        .map(
            v -> {
              CustomResourceSubresourceScale s = v.getSubresources().getScale();
              return new ScalePaths(
                  s.getSpecReplicasPath(), s.getStatusReplicasPath(), s.getLabelSelectorPath());
            });
  }

  private static ObjectNode scaleOf(ObjectNode object, ScalePaths paths) {
    ObjectNode scale = JSON.createObjectNode();
    scale.put("kind", "Scale");
    scale.put("apiVersion", "autoscaling/v1");
    ObjectNode meta = scale.putObject("metadata");
    for (String f : List.of("name", "namespace", "uid", "resourceVersion", "creationTimestamp")) {
      if (object.path("metadata").has(f)) {
        meta.set(f, object.path("metadata").get(f));
      }
    }
    JsonNode spec = TableView.select(object, paths.spec());
    scale.putObject("spec").put("replicas", spec == null || spec.isNull() ? 0 : spec.asInt());
    ObjectNode status = scale.putObject("status");
    JsonNode statusReplicas = TableView.select(object, paths.status());
    status.put(
        "replicas", statusReplicas == null || statusReplicas.isNull() ? 0 : statusReplicas.asInt());
    if (paths.selector() != null) {
      JsonNode selector = TableView.select(object, paths.selector());
      if (selector != null && !selector.isNull()) {
        status.put("selector", selector.asText());
      }
    } else {
      StringBuilder selector = new StringBuilder();
      object
          .path("spec")
          .path("selector")
          .path("matchLabels")
          .fields()
          .forEachRemaining(
              e ->
                  selector
                      .append(selector.length() == 0 ? "" : ",")
                      .append(e.getKey())
                      .append('=')
                      .append(e.getValue().asText()));
      status.put("selector", selector.toString());
    }
    return scale;
  }

  /** Sets a simple dotted path such as {@code .spec.replicas}, creating objects on the way. */
  private static void set(ObjectNode root, String dottedPath, JsonNode value) {
    String[] parts = dottedPath.replaceFirst("^\\.", "").split("\\.");
    ObjectNode node = root;
    for (int i = 0; i < parts.length - 1; i++) {
      node =
          node.has(parts[i]) && node.get(parts[i]).isObject()
              ? (ObjectNode) node.get(parts[i])
              : node.putObject(parts[i]);
    }
    node.set(parts[parts.length - 1], value);
  }

  // --- patches ---

  /**
   * Patches to built-in kinds (custom resources go through {@link CustomResourceWrites}). JSON
   * patches go to the store. Merge patches are applied here, as RFC 7386 says (the store's merge
   * appends to arrays instead of replacing them, so a status with conditions grows on every write),
   * and the result is PUT back; strategic merge patches are treated as merge patches whose lists of
   * named objects merge by {@code name}; server-side apply as a merge patch that creates the object
   * when it is missing.
   */
  private MockResponse patch(RecordedRequest request, String path, byte[] body) throws IOException {
    String contentType = request.getHeader("Content-Type");
    if (contentType == null || contentType.contains("json-patch")) {
      return store.dispatch(copy(request, request.getPath(), request.getHeaders(), body));
    }
    boolean apply = contentType.contains("apply-patch");
    boolean strategic = contentType.contains("strategic-merge-patch");
    JsonNode patch = apply ? YAML.readTree(body) : JSON.readTree(body);
    if (path.endsWith("/status") && SECRETS.matcher(path).matches()) {
      return status(404, "NotFound", "secrets have no status");
    }
    String objectPath =
        path.endsWith("/status") ? path.substring(0, path.length() - "/status".length()) : path;
    MockResponse current = store.dispatch(request(HttpMethod.GET, objectPath, new byte[0], null));
    if (current.code() == 404 && apply) {
      String collection = objectPath.substring(0, objectPath.lastIndexOf('/'));
      return store.dispatch(
          request(HttpMethod.POST, collection, JSON.writeValueAsBytes(patch), "application/json"));
    }
    if (current.code() != 200) {
      return current;
    }
    JsonNode merged =
        MergePatch.apply(JSON.readTree(current.getBody().readUtf8()), patch, strategic || apply);
    return store.dispatch(
        request(HttpMethod.PUT, path, JSON.writeValueAsBytes(merged), "application/json"));
  }

  /**
   * As a real API server does: {@code stringData} is write-only and lands base64-encoded in {@code
   * data}.
   */
  private static byte[] foldStringData(byte[] body) throws IOException {
    JsonNode node;
    try {
      node = JSON.readTree(body);
    } catch (IOException e) {
      return body; // YAML (server-side apply) or not JSON: left to the handler
    }
    if (!(node instanceof ObjectNode secret) || !secret.path("stringData").isObject()) {
      return body;
    }
    ObjectNode data =
        secret.path("data").isObject() ? (ObjectNode) secret.get("data") : secret.putObject("data");
    secret
        .get("stringData")
        .fields()
        .forEachRemaining(
            e ->
                data.put(
                    e.getKey(),
                    java.util.Base64.getEncoder()
                        .encodeToString(e.getValue().asText().getBytes(StandardCharsets.UTF_8))));
    secret.remove("stringData");
    return JSON.writeValueAsBytes(secret);
  }

  /**
   * Everyone may do everything here (the server checks no credentials), which is what self subject
   * reviews answer; the operator's leader election asks before it starts.
   */
  private static MockResponse selfSubjectReview(byte[] body) throws IOException {
    ObjectNode review =
        body.length == 0 ? JSON.createObjectNode() : (ObjectNode) JSON.readTree(body);
    ObjectNode status = review.putObject("status");
    if ("SelfSubjectRulesReview".equals(review.path("kind").asText())) {
      ObjectNode rule = status.putArray("resourceRules").addObject();
      rule.putArray("verbs").add("*");
      rule.putArray("apiGroups").add("*");
      rule.putArray("resources").add("*");
      status.putArray("nonResourceRules").addObject().putArray("verbs").add("*");
      status.put("incomplete", false);
    } else {
      status.put("allowed", true);
    }
    return json(201, review.toString());
  }

  // --- pods/log ---

  private MockResponse log(String namespace, String pod, String query) throws IOException {
    Path file = podLog.apply(namespace, pod);
    if (file == null || !Files.exists(file)) {
      return status(404, "NotFound", "no log for pod " + namespace + "/" + pod);
    }
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    Matcher tail = Pattern.compile("(?:^|&)tailLines=(\\d+)").matcher(query);
    if (tail.find()) {
      int n = Integer.parseInt(tail.group(1));
      lines = lines.subList(Math.max(0, lines.size() - n), lines.size());
    }
    String text = lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
    return new MockResponse()
        .setResponseCode(200)
        .setHeader("Content-Type", "text/plain")
        .setBody(text);
  }

  /**
   * The store calls every list {@code List}; clients such as {@code kubectl logs -l} want {@code
   * PodList}.
   */
  private MockResponse typedList(String path, MockResponse response) throws IOException {
    Matcher m = COLLECTION.matcher(path);
    m.matches();
    String group = m.group(1) == null ? "" : m.group(1);
    String body = response.getBody().readUtf8();
    JsonNode list = JSON.readTree(body);
    if (!(list instanceof ObjectNode typed) || !"List".equals(list.path("kind").asText())) {
      return json(200, body);
    }
    Optional<String> kind =
        Discovery.resources(group, m.group(2), crds())
            .flatMap(
                r ->
                    r.getResources().stream()
                        .filter(x -> x.getName().equals(m.group(4)))
                        .map(x -> x.getKind())
                        .findFirst());
    if (kind.isPresent()) {
      typed.put("kind", kind.get() + "List");
      typed.put("apiVersion", group.isEmpty() ? m.group(2) : group + "/" + m.group(2));
    }
    return json(200, typed.toString());
  }

  // --- tables ---

  private MockResponse table(String path, MockResponse response) {
    Matcher object = OBJECT.matcher(path);
    Matcher collection = COLLECTION.matcher(path);
    String group;
    String version;
    String plural;
    if (object.matches() && object.group(6) == null) {
      group = object.group(1);
      version = object.group(2);
      plural = object.group(4);
    } else if (collection.matches()) {
      group = collection.group(1);
      version = collection.group(2);
      plural = collection.group(4);
    } else {
      return response;
    }
    CustomResourceDefinition crd = group == null ? null : crd(group, plural).orElse(null);
    String body = response.getBody().readUtf8();
    return json(200, TableView.toTable(body, TableView.columnsFor(plural, crd, version)));
  }

  // --- helpers ---

  static RecordedRequest request(HttpMethod method, String path, byte[] body, String contentType) {
    Headers.Builder headers = Headers.builder();
    if (contentType != null) {
      headers.add("Content-Type", contentType);
    }
    return new RecordedRequest("HTTP/1.1", method, path, headers.build(), new Buffer(body));
  }

  private static RecordedRequest copy(
      RecordedRequest r, String path, Headers headers, byte[] body) {
    return new RecordedRequest(r.getHttpVersion(), r.method(), path, headers, new Buffer(body));
  }

  static MockResponse json(int code, String body) {
    return new MockResponse()
        .setResponseCode(code)
        .setHeader("Content-Type", "application/json")
        .setBody(body);
  }

  private static MockResponse status(int code, String reason, String message) {
    ObjectNode s = JSON.createObjectNode();
    s.put("kind", "Status");
    s.put("apiVersion", "v1");
    s.put("status", "Failure");
    s.put("reason", reason);
    s.put("message", message);
    s.put("code", code);
    return json(code, s.toString());
  }
}
