package dev.flotilla.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.flotilla.local.validation.CrdValidator;
import dev.flotilla.local.validation.FieldError;
import dev.flotilla.local.validation.StatusErrors;
import dev.flotilla.local.validation.StatusErrors.Rejection;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every write to a custom resource (create, update, status update, JSON and merge patches,
 * server-side apply) passes through what kube-apiserver does before it stores one, so that what a
 * cluster rejects is rejected here too, with the same status and words:
 *
 * <ol>
 *   <li>the body (for a patch: the current object with the patch applied) is decoded by its CRD's
 *       {@link CrdValidator}: undeclared fields are dropped, and the request's {@code
 *       fieldValidation} decides what that means: {@code Strict} (kubectl's default) rejects it,
 *       {@code Warn} (the default for other clients) answers with {@code Warning} headers, {@code
 *       Ignore} says nothing; server-side apply rejects it whatever the setting;
 *   <li>with a status subresource, a write to the object keeps the stored status and a write to
 *       {@code /status} keeps the rest;
 *   <li>the result is validated (on update against the stored object, for transition rules) and
 *       refused with 422 {@code Invalid}, or stored with its defaults filled in.
 * </ol>
 *
 * <p>An update must carry the stored resourceVersion (custom resources take no unconditional
 * update): none is 422, another is 409 Conflict. Writes to custom resources are serialized here, so
 * that nothing changes the object between reading it and storing the result, and a patch, which
 * carries the version it read unless it names one, conflicts only when it names a stale one.
 *
 * <p>Strategic merge patches are refused with 415, as custom resources do not take them. {@code
 * dryRun=All} validates and answers without storing.
 */
final class CustomResourceWrites {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final YAMLMapper YAML = new YAMLMapper();
  private static final Pattern RESOURCE =
      Pattern.compile(
          "/apis/([^/]+)/([^/]+)(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+)(/status)?)?");

  /** What {@code fieldValidation} asks for undeclared fields; absent means {@code Warn}. */
  enum FieldValidation {
    STRICT,
    WARN,
    IGNORE;

    private static final Pattern QUERY = Pattern.compile("(?:^|&)fieldValidation=([^&]*)");

    static FieldValidation of(String query) {
      Matcher m = QUERY.matcher(query);
      if (!m.find()) {
        return WARN;
      }
      return switch (m.group(1)) {
        case "Strict" -> STRICT;
        case "Ignore" -> IGNORE;
        default -> WARN;
      };
    }
  }

  /** A custom resource's collection, object or status, and the validator of its version. */
  record Target(
      CrdValidator validator, String plural, String collection, String name, boolean status) {
    String object() {
      return collection + "/" + name;
    }
  }

  private record CachedValidator(String resourceVersion, Optional<CrdValidator> validator) {}

  private final Function<RecordedRequest, MockResponse> store;
  private final Supplier<List<CustomResourceDefinition>> crds;
  private final Map<String, CachedValidator> validators = new ConcurrentHashMap<>();

  /**
   * @param store the in-memory store that keeps the objects
   * @param crds the CRDs installed now
   */
  CustomResourceWrites(
      Function<RecordedRequest, MockResponse> store,
      Supplier<List<CustomResourceDefinition>> crds) {
    this.store = store;
    this.crds = crds;
  }

  /** The custom resource at {@code path}, if it is one a CRD serves. */
  Optional<Target> target(String path) {
    Matcher m = RESOURCE.matcher(path);
    if (!m.matches()) {
      return Optional.empty();
    }
    String group = m.group(1);
    String version = m.group(2);
    String namespace = m.group(3);
    String plural = m.group(4);
    for (CustomResourceDefinition crd : crds.get()) {
      boolean namespaced = "Namespaced".equals(crd.getSpec().getScope());
      if (crd.getSpec().getGroup().equals(group)
          && crd.getSpec().getNames().getPlural().equals(plural)
          && namespaced == (namespace != null)) {
        String collection =
            "/apis/"
                + group
                + "/"
                + version
                + (namespace == null ? "" : "/namespaces/" + namespace)
                + "/"
                + plural;
        return validator(crd, version)
            .map(v -> new Target(v, plural, collection, m.group(5), m.group(6) != null));
      }
    }
    return Optional.empty();
  }

  private Optional<CrdValidator> validator(CustomResourceDefinition crd, String version) {
    String key = crd.getMetadata().getName() + "/" + version;
    String resourceVersion = String.valueOf(crd.getMetadata().getResourceVersion());
    CachedValidator cached = validators.get(key);
    if (cached == null || !cached.resourceVersion().equals(resourceVersion)) {
      JsonNode tree = Serialization.jsonMapper().valueToTree(crd);
      cached = new CachedValidator(resourceVersion, CrdValidator.of(tree, version));
      validators.put(key, cached);
    }
    return cached.validator();
  }

  /** Handles a POST, PUT or PATCH to {@code target}. */
  synchronized MockResponse write(RecordedRequest request, Target target, String query, byte[] body)
      throws IOException {
    FieldValidation fieldValidation = FieldValidation.of(query);
    boolean dryRun = query.matches("(?:.*&)?dryRun=All(?:&.*)?");
    String contentType = String.valueOf(request.getHeader("Content-Type"));
    HttpMethod method = request.method();
    if (method == HttpMethod.POST && target.name() == null) {
      return create(target, body, contentType, fieldValidation, dryRun);
    }
    if (method == HttpMethod.PUT && target.name() != null) {
      return update(target, body, contentType, fieldValidation, dryRun);
    }
    if (method == HttpMethod.PATCH && target.name() != null) {
      return patch(target, body, contentType, fieldValidation, dryRun);
    }
    return store.apply(request);
  }

  /**
   * Replaces the object at {@code target} (the scale subresource's write): validated as an update,
   * nothing undeclared to report.
   */
  synchronized MockResponse replace(Target target, ObjectNode object) throws IOException {
    MockResponse current = get(target.object());
    if (current.code() != 200) {
      return current;
    }
    CrdValidator.Decoded decoded = target.validator().decode(object);
    return validateAndStore(target, decoded, readObject(current), FieldValidation.IGNORE, false);
  }

  private MockResponse create(
      Target target,
      byte[] body,
      String contentType,
      FieldValidation fieldValidation,
      boolean dryRun)
      throws IOException {
    Optional<ObjectNode> object = readBody(body, contentType);
    if (object.isEmpty()) {
      return rejection(StatusErrors.badRequest("the body of the request is not a JSON object"));
    }
    CrdValidator v = target.validator();
    CrdValidator.Decoded decoded = v.decode(object.get());
    if (!decoded.unknownFields().isEmpty() && fieldValidation == FieldValidation.STRICT) {
      return rejection(StatusErrors.strictDecoding(v.kind(), v.version(), decoded.unknownFields()));
    }
    return insert(target, decoded, fieldValidation, dryRun);
  }

  /** Stores a new object: status dropped when it has its own subresource, then validated. */
  private MockResponse insert(
      Target target, CrdValidator.Decoded decoded, FieldValidation fieldValidation, boolean dryRun)
      throws IOException {
    CrdValidator v = target.validator();
    ObjectNode object = decoded.object();
    if (v.hasStatusSubresource()) {
      object.remove("status");
    }
    List<FieldError> errors = v.validate(object, null);
    if (!errors.isEmpty()) {
      return rejection(
          StatusErrors.invalid(
              v.kind(), v.group(), object.path("metadata").path("name").asText(), errors));
    }
    MockResponse response =
        dryRun
            ? LocalApiDispatcher.json(201, JSON.writeValueAsString(object))
            : store.apply(
                LocalApiDispatcher.request(
                    HttpMethod.POST,
                    target.collection(),
                    JSON.writeValueAsBytes(object),
                    "application/json"));
    return withWarnings(response, decoded.unknownFields(), fieldValidation);
  }

  private MockResponse update(
      Target target,
      byte[] body,
      String contentType,
      FieldValidation fieldValidation,
      boolean dryRun)
      throws IOException {
    Optional<ObjectNode> object = readBody(body, contentType);
    if (object.isEmpty()) {
      return rejection(StatusErrors.badRequest("the body of the request is not a JSON object"));
    }
    CrdValidator v = target.validator();
    CrdValidator.Decoded decoded = v.decode(object.get());
    if (!decoded.unknownFields().isEmpty() && fieldValidation == FieldValidation.STRICT) {
      return rejection(StatusErrors.strictDecoding(v.kind(), v.version(), decoded.unknownFields()));
    }
    MockResponse current = get(target.object());
    if (current.code() == 404) {
      return rejection(StatusErrors.notFound(v.group(), target.plural(), target.name()));
    }
    if (current.code() != 200) {
      return current;
    }
    return validateAndStore(target, decoded, readObject(current), fieldValidation, dryRun);
  }

  /**
   * A patch applied to the stored object, then handled as the update it amounts to. Server-side
   * apply to a missing object creates it.
   */
  private MockResponse patch(
      Target target,
      byte[] body,
      String contentType,
      FieldValidation fieldValidation,
      boolean dryRun)
      throws IOException {
    CrdValidator v = target.validator();
    if (contentType.contains("strategic-merge-patch")) {
      return rejection(StatusErrors.strategicMergePatchUnsupported());
    }
    boolean apply = contentType.contains("apply-patch");
    JsonNode patch;
    try {
      patch = apply ? YAML.readTree(body) : JSON.readTree(body);
    } catch (IOException e) {
      return rejection(StatusErrors.badRequest("the patch is not valid: " + e.getMessage()));
    }
    MockResponse current = get(target.object());
    if (current.code() == 404 && apply && !target.status() && patch instanceof ObjectNode config) {
      CrdValidator.Decoded decoded = v.decode(config);
      if (!decoded.unknownFields().isEmpty()) {
        return rejection(
            StatusErrors.applyUndeclaredFields(
                v.group(), v.version(), v.kind(), decoded.unknownFields()));
      }
      return insert(target, decoded, fieldValidation, dryRun);
    }
    if (current.code() == 404) {
      return rejection(StatusErrors.notFound(v.group(), target.plural(), target.name()));
    }
    if (current.code() != 200) {
      return current;
    }
    ObjectNode old = readObject(current);
    JsonNode patched;
    if (contentType.contains("json-patch")) {
      try {
        patched = JsonPatch.apply(patch, old);
      } catch (RuntimeException e) {
        return rejection(StatusErrors.jsonPatchFailed());
      }
    } else {
      patched = MergePatch.apply(old, patch, apply);
    }
    if (!(patched instanceof ObjectNode patchedObject)) {
      return rejection(StatusErrors.badRequest("the patched object is not a JSON object"));
    }
    CrdValidator.Decoded decoded = v.decode(patchedObject);
    if (!decoded.unknownFields().isEmpty() && apply) {
      return rejection(
          StatusErrors.applyUndeclaredFields(
              v.group(), v.version(), v.kind(), decoded.unknownFields()));
    }
    if (!decoded.unknownFields().isEmpty() && fieldValidation == FieldValidation.STRICT) {
      return rejection(StatusErrors.patchStrictDecoding(patchedObject, decoded.unknownFields()));
    }
    return validateAndStore(target, decoded, old, fieldValidation, dryRun);
  }

  /**
   * Checks the resourceVersion, validates {@code decoded} as the new state of the target (the whole
   * object, or its status) against {@code old}, and stores it.
   */
  private MockResponse validateAndStore(
      Target target,
      CrdValidator.Decoded decoded,
      ObjectNode old,
      FieldValidation fieldValidation,
      boolean dryRun)
      throws IOException {
    CrdValidator v = target.validator();
    String version = decoded.object().path("metadata").path("resourceVersion").asText("");
    if (version.isEmpty()) {
      return rejection(
          StatusErrors.resourceVersionRequired(v.group(), target.plural(), target.name()));
    }
    if (!version.equals(old.path("metadata").path("resourceVersion").asText())) {
      return rejection(StatusErrors.conflict(v.group(), target.plural(), target.name()));
    }
    ObjectNode candidate;
    if (target.status()) {
      candidate = withStatusOf(old, decoded.object());
    } else if (v.hasStatusSubresource()) {
      candidate = withStatusOf(decoded.object(), old);
    } else {
      candidate = decoded.object();
    }
    List<FieldError> errors = v.validate(candidate, old);
    if (!errors.isEmpty()) {
      return rejection(StatusErrors.invalid(v.kind(), v.group(), target.name(), errors));
    }
    MockResponse response =
        dryRun
            ? LocalApiDispatcher.json(200, JSON.writeValueAsString(candidate))
            : store.apply(
                LocalApiDispatcher.request(
                    HttpMethod.PUT,
                    target.object() + (target.status() ? "/status" : ""),
                    JSON.writeValueAsBytes(decoded.object()),
                    "application/json"));
    return withWarnings(response, decoded.unknownFields(), fieldValidation);
  }

  /** A copy of {@code object} whose status is that of {@code from} (none when it has none). */
  private static ObjectNode withStatusOf(ObjectNode object, ObjectNode from) {
    ObjectNode copy = object.deepCopy();
    if (from.has("status")) {
      copy.set("status", from.get("status").deepCopy());
    } else {
      copy.remove("status");
    }
    return copy;
  }

  private static MockResponse withWarnings(
      MockResponse response, List<String> unknownFields, FieldValidation fieldValidation) {
    if (fieldValidation == FieldValidation.WARN && response.code() < 300) {
      StatusErrors.unknownFieldWarnings(unknownFields)
          .forEach(w -> response.addHeader("Warning", w));
    }
    return response;
  }

  private MockResponse get(String path) {
    return store.apply(LocalApiDispatcher.request(HttpMethod.GET, path, new byte[0], null));
  }

  private static ObjectNode readObject(MockResponse response) throws IOException {
    return (ObjectNode) JSON.readTree(response.getBody().readUtf8());
  }

  private static Optional<ObjectNode> readBody(byte[] body, String contentType) {
    try {
      JsonNode node = contentType.contains("yaml") ? YAML.readTree(body) : JSON.readTree(body);
      return node instanceof ObjectNode object ? Optional.of(object) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static MockResponse rejection(Rejection rejection) {
    return LocalApiDispatcher.json(rejection.code(), rejection.status().toString());
  }
}
