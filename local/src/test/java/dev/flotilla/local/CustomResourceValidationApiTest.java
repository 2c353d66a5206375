package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real kubectl against the local API server, which answers custom resources that break their
 * CRD as kube-apiserver does: kubectl exits 1 and prints the field and the message a cluster would
 * print. Each invalid resource is a sample from examples/ with one change.
 */
@ExtendWith(FailureDump.class)
class CustomResourceValidationApiTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Map<String, ObjectNode> SAMPLES = new HashMap<>();
  private static final AtomicInteger FILES = new AtomicInteger();

  /** A JSON value marking a field to remove. */
  private static final Object REMOVE = new Object();

  static LocalApi api;
  static Kubectl kubectl;

  @BeforeAll
  static void start() throws Exception {
    api = LocalApi.start(CustomResourceValidationApiTest.class);
    kubectl = new Kubectl(api.kubeconfig);
    try (Stream<Path> files = Files.list(LocalApi.repoRoot().resolve("examples"))) {
      for (Path file : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (YAMLParser parser = new YAMLFactory().createParser(file.toFile())) {
          for (JsonNode doc : YAML.readValues(parser, JsonNode.class).readAll()) {
            if (doc.path("apiVersion").asText().startsWith("flotilla.dev/")) {
              ObjectNode sample = (ObjectNode) doc;
              ObjectNode metadata = (ObjectNode) sample.get("metadata");
              if (metadata.has("namespace")) {
                metadata.put("namespace", api.namespace);
              }
              SAMPLES.putIfAbsent(doc.path("kind").asText(), sample);
            }
          }
        }
      }
    }
  }

  @AfterAll
  static void stop() {
    api.close();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidResources")
  void anInvalidResourceIsRefusedWithItsFieldAndReason(
      String description, String kind, String path, Object value, String expected)
      throws Exception {
    ObjectNode resource = sample(kind, "bad-" + FILES.incrementAndGet());
    set(resource, path, value);
    String name = resource.path("metadata").path("name").asText();

    Kubectl.Result result = kubectl.run("apply", "-f", write(resource).toString());

    assertThat(result.exitCode()).as(result.output()).isEqualTo(1);
    assertThat(result.output())
        .as(description)
        .contains("The " + kind + " \"" + name + "\" is invalid: ")
        .contains(expected);
    assertThat(kubectl.run("get", kind.toLowerCase(), name).exitCode())
        .as("nothing was stored")
        .isEqualTo(1);
  }

  static Stream<Arguments> invalidResources() {
    return Stream.of(
        // ModelDeployment
        bad("model missing", "ModelDeployment", "spec.model", REMOVE, "spec.model: Required value"),
        bad(
            "source scheme unknown",
            "ModelDeployment",
            "spec.model.source",
            "ftp://host/model",
            "spec.model.source: Invalid value: \"ftp://host/model\": spec.model.source in body"
                + " should match '^(file|pvc|hf|s3)://.+$'"),
        bad(
            "dtype not one of the enum",
            "ModelDeployment",
            "spec.model.dtype",
            "fp8",
            "spec.model.dtype: Unsupported value: \"fp8\": supported values: \"BF16\", \"F16\","
                + " \"F32\""),
        bad(
            "maxReplicas negative",
            "ModelDeployment",
            "spec.scaling.maxReplicas",
            -1,
            "spec.scaling.maxReplicas: Invalid value: -1: spec.scaling.maxReplicas in body should"
                + " be greater than or equal to 0"),
        bad(
            "minReplicas above maxReplicas (CEL rule)",
            "ModelDeployment",
            "spec.scaling.minReplicas",
            3,
            "spec.scaling: Invalid value: \"object\": minReplicas must not be greater than"
                + " maxReplicas"),
        bad(
            "duration without a unit",
            "ModelDeployment",
            "spec.scaling.scaleToZeroAfter",
            "300",
            "spec.scaling.scaleToZeroAfter: Invalid value: \"300\": spec.scaling.scaleToZeroAfter"
                + " in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'"),
        bad(
            "LoRA rank above its maximum",
            "ModelDeployment",
            "spec.engine.maxLoraRank",
            300,
            "spec.engine.maxLoraRank: Invalid value: 300: spec.engine.maxLoraRank in body should"
                + " be less than or equal to 256"),
        bad(
            "replicas a string",
            "ModelDeployment",
            "spec.replicas",
            "two",
            "* spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type"
                + " integer: \"string\"\n"
                + "* <nil>: Invalid value: \"null\": some validation rules were not checked"
                + " because the object was invalid; correct the existing errors to complete"
                + " validation"),
        bad(
            "GPUs a fraction",
            "ModelDeployment",
            "spec.resources.gpus",
            1.5,
            "spec.resources.gpus: Invalid value: \"number\": spec.resources.gpus in body must be"
                + " of type integer: \"number\""),
        bad(
            "name not a DNS subdomain",
            "ModelDeployment",
            "metadata.name",
            "Tiny_Llama",
            "metadata.name: Invalid value: \"Tiny_Llama\": a lowercase RFC 1123 subdomain must"
                + " consist of lower case alphanumeric characters"),
        // LoraAdapter
        bad("source missing", "LoraAdapter", "spec.source", REMOVE, "spec.source: Required value"),
        bad(
            "rank zero",
            "LoraAdapter",
            "spec.rank",
            0,
            "spec.rank: Invalid value: 0: spec.rank in body should be greater than or equal to 1"),
        bad(
            "visibility not one of the enum",
            "LoraAdapter",
            "spec.visibility",
            "Shared",
            "spec.visibility: Unsupported value: \"Shared\": supported values: \"Private\","
                + " \"Public\""),
        bad(
            "a target module not one of the enum",
            "LoraAdapter",
            "spec.targetModules",
            List.of("q_proj", "lm_head"),
            "spec.targetModules[1]: Unsupported value: \"lm_head\": supported values:"
                + " \"down_proj\", \"gate_proj\", \"k_proj\", \"o_proj\", \"q_proj\", \"up_proj\","
                + " \"v_proj\""),
        bad(
            "private adapter without a tenant (CEL rule)",
            "LoraAdapter",
            "spec.tenant",
            REMOVE,
            "spec: Invalid value: \"object\": a Private adapter needs an owning tenant"),
        bad(
            "base model not a DNS name",
            "LoraAdapter",
            "spec.modelDeployment",
            "Tiny_Llama",
            "spec.modelDeployment: Invalid value: \"Tiny_Llama\": spec.modelDeployment in body"
                + " should match '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'"),
        // Tenant
        bad(
            "no API key Secrets",
            "Tenant",
            "spec.apiKeySecrets",
            List.of(),
            "spec.apiKeySecrets: Invalid value: 0: spec.apiKeySecrets in body should have at"
                + " least 1 items"),
        bad(
            "more than 16 API key Secrets",
            "Tenant",
            "spec.apiKeySecrets",
            Collections.nCopies(17, Map.of("name", "keys", "namespace", "default")),
            "spec.apiKeySecrets: Too many: 17: must have at most 16 items"),
        bad(
            "Secret reference without namespace",
            "Tenant",
            "spec.apiKeySecrets[0].namespace",
            REMOVE,
            "spec.apiKeySecrets[0].namespace: Required value"),
        bad(
            "weight zero",
            "Tenant",
            "spec.weight",
            0,
            "spec.weight: Invalid value: 0: spec.weight in body should be greater than or equal"
                + " to 1"),
        bad(
            "priority not one of the enum",
            "Tenant",
            "spec.priority",
            "Urgent",
            "spec.priority: Unsupported value: \"Urgent\": supported values: \"High\", \"Low\","
                + " \"Normal\""),
        bad(
            "requests per second below its fractional minimum",
            "Tenant",
            "spec.limits.requestsPerSecond",
            0.0001,
            "spec.limits.requestsPerSecond: Invalid value: 0.0001: spec.limits.requestsPerSecond"
                + " in body should be greater than or equal to 0.001"),
        // GpuNodePool
        bad(
            "maxNodes missing",
            "GpuNodePool",
            "spec.maxNodes",
            REMOVE,
            "spec.maxNodes: Required value"),
        bad(
            "GPU memory not a quantity",
            "GpuNodePool",
            "spec.gpu.memory",
            "24 GB",
            "spec.gpu.memory: Invalid value: \"24 GB\": spec.gpu.memory in body should match"
                + " '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$'"),
        bad(
            "GPUs per node above its maximum",
            "GpuNodePool",
            "spec.gpu.perNode",
            17,
            "spec.gpu.perNode: Invalid value: 17: spec.gpu.perNode in body should be less than or"
                + " equal to 16"),
        bad(
            "empty node selector",
            "GpuNodePool",
            "spec.nodeSelector",
            Map.of(),
            "spec.nodeSelector: Invalid value: 0: spec.nodeSelector in body should have at least"
                + " 1 properties"),
        bad(
            "negative cost",
            "GpuNodePool",
            "spec.costPerGpuHour",
            -0.5,
            "spec.costPerGpuHour: Invalid value: -0.5: spec.costPerGpuHour in body should be"
                + " greater than or equal to 0"),
        bad(
            "tolerations not a list",
            "GpuNodePool",
            "spec.tolerations",
            "none",
            "spec.tolerations: Invalid value: \"string\": spec.tolerations in body must be of type"
                + " array: \"string\""));
  }

  @Test
  void anUnknownFieldIsAnErrorUnderStrictAWarningUnderWarnAndDroppedEither() throws Exception {
    ObjectNode strict = sample("ModelDeployment", "typo-strict");
    ((ObjectNode) strict.get("spec")).put("modle", "x");
    Path strictFile = write(strict);
    Kubectl.Result refused = kubectl.run("apply", "-f", strictFile.toString());
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.output())
        .contains(
            "Error from server (BadRequest): error when creating \""
                + strictFile
                + "\": ModelDeployment in version \"v1alpha1\" cannot be handled as a"
                + " ModelDeployment: strict decoding error: unknown field \"spec.modle\"");

    ObjectNode existing = sample("ModelDeployment", "typo-update");
    kubectl.ok("apply", "-f", write(existing).toString());
    ((ObjectNode) existing.get("spec")).put("modle", "x");
    Kubectl.Result patch = kubectl.run("apply", "-f", write(existing).toString());
    assertThat(patch.exitCode()).isEqualTo(1);
    assertThat(patch.output())
        .as("an update is a merge patch; its result does not decode")
        .startsWith("The request is invalid: patch: Invalid value: \"{")
        .contains("strict decoding error: unknown field \"spec.modle\"");

    ObjectNode warned = sample("ModelDeployment", "typo-warn");
    ((ObjectNode) warned.get("spec")).put("modle", "x");
    String output = kubectl.ok("apply", "--validate=warn", "-f", write(warned).toString());
    assertThat(output)
        .contains("Warning: unknown field \"spec.modle\"")
        .contains("modeldeployment.flotilla.dev/typo-warn created");
    assertThat(jsonOf("md", "typo-warn").path("spec").has("modle")).as("pruned").isFalse();

    ObjectNode ignored = sample("ModelDeployment", "typo-ignore");
    ((ObjectNode) ignored.get("spec")).put("modle", "x");
    assertThat(kubectl.ok("apply", "--validate=false", "-f", write(ignored).toString()))
        .doesNotContain("Warning")
        .contains("typo-ignore created");
    assertThat(jsonOf("md", "typo-ignore").path("spec").has("modle")).isFalse();
  }

  @Test
  void validResourcesApplyWithTheSchemaDefaultsFilledIn() throws Exception {
    for (String kind : List.of("GpuNodePool", "ModelDeployment", "LoraAdapter", "Tenant")) {
      ObjectNode resource = sample(kind, "valid-" + kind.toLowerCase());
      assertThat(kubectl.ok("apply", "-f", write(resource).toString())).contains("created");
    }
    JsonNode md = jsonOf("md", "valid-modeldeployment").path("spec");
    assertThat(md.path("scaling").path("stableWindow").asText()).isEqualTo("60s");
    assertThat(md.path("scaling").path("panicThreshold").asDouble()).isEqualTo(2.0);
    assertThat(md.path("engine").path("kvBlockSize").asInt()).isEqualTo(16);
    assertThat(md.path("engine").path("maxBatchSize").asInt()).as("as given").isEqualTo(32);

    ObjectNode bare = sample("ModelDeployment", "bare");
    ObjectNode spec = (ObjectNode) bare.get("spec");
    spec.retain("model");
    kubectl.ok("apply", "-f", write(bare).toString());
    assertThat(jsonOf("md", "bare").path("spec").has("scaling"))
        .as("a default does not create its parent")
        .isFalse();

    ObjectNode lora = sample("LoraAdapter", "public-adapter");
    ((ObjectNode) lora.get("spec")).remove(List.of("visibility", "tenant"));
    Kubectl.Result privateWithoutTenant = kubectl.run("apply", "-f", write(lora).toString());
    assertThat(privateWithoutTenant.output())
        .as("visibility defaults to Private, which needs a tenant")
        .contains("spec: Invalid value: \"object\": a Private adapter needs an owning tenant");

    JsonNode tenant = jsonOf("tenant", "valid-tenant");
    assertThat(tenant.path("spec").path("priority").asText()).isEqualTo("Normal");
  }

  @Test
  void updatesByApplyReplaceAndPatchAreValidatedToo() throws Exception {
    ObjectNode md = sample("ModelDeployment", "updated");
    kubectl.ok("apply", "-f", write(md).toString());

    set(md, "spec.scaling.maxReplicas", -1);
    Kubectl.Result apply = kubectl.run("apply", "-f", write(md).toString());
    assertThat(apply.exitCode()).isEqualTo(1);
    assertThat(apply.output())
        .as("a schema error does not stop the rules that still make sense")
        .contains(
            "The ModelDeployment \"updated\" is invalid: \n"
                + "* spec.scaling.maxReplicas: Invalid value: -1: spec.scaling.maxReplicas in body"
                + " should be greater than or equal to 0\n"
                + "* spec.scaling: Invalid value: \"object\": minReplicas must not be greater than"
                + " maxReplicas\n");

    ObjectNode stored = (ObjectNode) jsonOf("md", "updated");
    set(stored, "spec.model.dtype", "fp8");
    Kubectl.Result replace = kubectl.run("replace", "-f", write(stored).toString());
    assertThat(replace.exitCode()).isEqualTo(1);
    assertThat(replace.output()).contains("spec.model.dtype: Unsupported value: \"fp8\"");

    ObjectNode unversioned = stored.deepCopy();
    set(unversioned, "spec.model.dtype", "F16");
    ((ObjectNode) unversioned.get("metadata")).remove("resourceVersion");
    // kubectl replace fills in a missing resourceVersion; other clients may not.
    Raw noVersion =
        send(
            "PUT",
            "/apis/flotilla.dev/v1alpha1/namespaces/" + api.namespace + "/modeldeployments/updated",
            unversioned);
    assertThat(noVersion.code()).isEqualTo(422);
    assertThat(noVersion.body().path("message").asText())
        .as("custom resources take no unconditional update")
        .isEqualTo(
            "modeldeployments.flotilla.dev \"updated\" is invalid: metadata.resourceVersion:"
                + " Invalid value: 0x0: must be specified for an update");
    ((ObjectNode) unversioned.get("metadata")).put("resourceVersion", "1");
    Path stale = write(unversioned);
    Kubectl.Result staleVersion = kubectl.run("replace", "-f", stale.toString());
    assertThat(staleVersion.exitCode()).isEqualTo(1);
    assertThat(staleVersion.output())
        .contains(
            "Error from server (Conflict): error when replacing \""
                + stale
                + "\": Operation cannot be fulfilled on modeldeployments.flotilla.dev \"updated\":"
                + " the object has been modified; please apply your changes to the latest version"
                + " and try again");

    Kubectl.Result jsonPatch =
        kubectl.run(
            "patch",
            "md",
            "updated",
            "--type=json",
            "-p",
            "[{\"op\":\"replace\",\"path\":\"/spec/scaling/targetConcurrency\",\"value\":0}]");
    assertThat(jsonPatch.exitCode()).isEqualTo(1);
    assertThat(jsonPatch.output())
        .contains(
            "spec.scaling.targetConcurrency: Invalid value: 0: spec.scaling.targetConcurrency in"
                + " body should be greater than or equal to 1");

    Kubectl.Result mergePatch =
        kubectl.run(
            "patch",
            "md",
            "updated",
            "--type=merge",
            "-p",
            "{\"spec\":{\"model\":{\"source\":null}}}");
    assertThat(mergePatch.exitCode()).isEqualTo(1);
    assertThat(mergePatch.output()).contains("spec.model.source: Required value");

    Kubectl.Result strategic =
        kubectl.run("patch", "md", "updated", "-p", "{\"spec\":{\"replicas\":1}}");
    assertThat(strategic.exitCode()).isEqualTo(1);
    assertThat(strategic.output())
        .contains(
            "the body of the request was in an unknown format - accepted media types include:");

    assertThat(jsonOf("md", "updated").path("spec").path("scaling").path("maxReplicas").asInt())
        .as("nothing was stored")
        .isEqualTo(2);
  }

  @Test
  void statusWritesAreValidatedAgainstTheStatusSchema() throws Exception {
    ObjectNode md = sample("ModelDeployment", "with-status");
    kubectl.ok("apply", "-f", write(md).toString());

    Kubectl.Result result =
        kubectl.run(
            "patch",
            "md",
            "with-status",
            "--subresource=status",
            "--type=merge",
            "-p",
            "{\"status\":{\"readyReplicas\":\"all\"}}");

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output())
        .contains(
            "The ModelDeployment \"with-status\" is invalid: \n"
                + "* status.readyReplicas: Invalid value: \"string\": status.readyReplicas in body"
                + " must be of type integer: \"string\"\n");
    Kubectl.Result stale =
        kubectl.run(
            "patch",
            "md",
            "with-status",
            "--subresource=status",
            "--type=json",
            "-p",
            "[{\"op\":\"add\",\"path\":\"/metadata/resourceVersion\",\"value\":\"1\"},"
                + "{\"op\":\"add\",\"path\":\"/status\",\"value\":{\"readyReplicas\":1}}]");
    assertThat(stale.exitCode()).isEqualTo(1);
    assertThat(stale.output())
        .as("a status patch that names a stale resourceVersion, as the operator's do")
        .contains(
            "Error from server (Conflict): Operation cannot be fulfilled on"
                + " modeldeployments.flotilla.dev \"with-status\": the object has been modified");
    assertThat(
            kubectl.ok(
                "patch",
                "md",
                "with-status",
                "--subresource=status",
                "--type=merge",
                "-p",
                "{\"status\":{\"readyReplicas\":1}}"))
        .contains("patched");
  }

  @Test
  void theRefusalIsKubeApiserversInvalidStatus() throws Exception {
    ObjectNode md = sample("ModelDeployment", "raw");
    set(md, "spec.engine.maxLoraRank", 300);
    set(md, "spec.scaling.minReplicas", 3);

    Raw response =
        send(
            "POST",
            "/apis/flotilla.dev/v1alpha1/namespaces/" + api.namespace + "/modeldeployments",
            md);

    assertThat(response.code()).isEqualTo(422);
    assertThat(response.body())
        .isEqualTo(
            YAML.readTree(
                """
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": "ModelDeployment.flotilla.dev \\"raw\\" is invalid: [spec.engine.maxLoraRank: Invalid value: 300: spec.engine.maxLoraRank in body should be less than or equal to 256, spec.scaling: Invalid value: \\"object\\": minReplicas must not be greater than maxReplicas]",
                 "reason": "Invalid",
                 "details": {"name": "raw", "group": "flotilla.dev", "kind": "ModelDeployment",
                   "causes": [
                     {"reason": "FieldValueInvalid", "message": "Invalid value: 300: spec.engine.maxLoraRank in body should be less than or equal to 256", "field": "spec.engine.maxLoraRank"},
                     {"reason": "FieldValueInvalid", "message": "Invalid value: \\"object\\": minReplicas must not be greater than maxReplicas", "field": "spec.scaling"}]},
                 "code": 422}
                """));
  }

  @Test
  void serverDryRunValidatesWithoutStoring() throws Exception {
    ObjectNode md = sample("ModelDeployment", "dry");
    assertThat(kubectl.ok("apply", "--dry-run=server", "-f", write(md).toString()))
        .contains("created (server dry run)");
    assertThat(kubectl.run("get", "md", "dry").exitCode()).isEqualTo(1);

    set(md, "spec.scaling.minReplicas", -3);
    Kubectl.Result invalid = kubectl.run("apply", "--dry-run=server", "-f", write(md).toString());
    assertThat(invalid.exitCode()).isEqualTo(1);
    assertThat(invalid.output()).contains("spec.scaling.minReplicas: Invalid value: -3");
  }

  /** A CRD of the test's own: the product CRDs have no transition rule. */
  private static final String WIDGET_CRD =
      """
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: widgets.example.dev
      spec:
        group: example.dev
        names: {kind: Widget, plural: widgets, singular: widget}
        scope: Namespaced
        versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    owner:
                      type: string
                      x-kubernetes-validations:
                      - rule: self == oldSelf
                        message: owner is immutable
                    size:
                      type: integer
                  x-kubernetes-validations:
                  - rule: "!has(oldSelf.size) || self.size >= oldSelf.size"
                    message: size may only grow
                    fieldPath: .size
      """;

  @Test
  void aTransitionRuleJudgesAnUpdateAgainstTheStoredObject() throws Exception {
    Path crd = api.dir.resolve("widget-crd.yaml");
    Files.writeString(crd, WIDGET_CRD);
    kubectl.ok("apply", "-f", crd.toString());
    Path widget = api.dir.resolve("widget.yaml");
    Files.writeString(
        widget,
        "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: w}\n"
            + "spec: {owner: ann, size: 3}\n");
    kubectl.ok("apply", "-f", widget.toString());

    Files.writeString(
        widget,
        "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: w}\n"
            + "spec: {owner: bob, size: 2}\n");
    Kubectl.Result result = kubectl.run("apply", "-f", widget.toString());

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(result.output())
        .contains(
            "The Widget \"w\" is invalid: \n"
                + "* spec.size: Invalid value: \"object\": size may only grow\n"
                + "* spec.owner: Invalid value: \"string\": owner is immutable\n");

    Files.writeString(
        widget,
        "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: w}\n"
            + "spec: {owner: ann, size: 4}\n");
    assertThat(kubectl.ok("apply", "-f", widget.toString()))
        .contains("widget.example.dev/w configured");
  }

  // --- helpers ---

  private static Arguments bad(
      String description, String kind, String path, Object value, String expected) {
    return Arguments.of(description, kind, path, value, expected);
  }

  private static ObjectNode sample(String kind, String name) {
    ObjectNode resource = SAMPLES.get(kind).deepCopy();
    ((ObjectNode) resource.get("metadata")).put("name", name);
    return resource;
  }

  private static JsonNode jsonOf(String resource, String name) throws Exception {
    return YAML.readTree(kubectl.ok("get", resource, name, "-o", "json"));
  }

  private static Path write(JsonNode resource) throws IOException {
    Path file = api.dir.resolve("resource-" + FILES.incrementAndGet() + ".yaml");
    Files.writeString(file, YAML.writeValueAsString(resource));
    return file;
  }

  /** A response to a request sent without kubectl. */
  private record Raw(int code, JsonNode body) {}

  private static Raw send(String method, String path, JsonNode body) throws Exception {
    HttpClient http = api.client().getHttpClient();
    HttpResponse<String> response =
        http.sendAsync(
                http.newHttpRequestBuilder()
                    .uri(api.server.url() + path)
                    .method(method, "application/json", body.toString())
                    .build(),
                String.class)
            .get(30, TimeUnit.SECONDS);
    return new Raw(response.code(), YAML.readTree(response.body()));
  }

  /**
   * Sets (or with {@link #REMOVE} deletes) the field at a dotted path such as {@code spec.a[0].b}.
   */
  private static void set(ObjectNode root, String path, Object value) {
    String[] parts = path.split("\\.");
    JsonNode parent = root;
    for (int i = 0; i < parts.length - 1; i++) {
      String part = parts[i];
      if (part.endsWith("]")) {
        String name = part.substring(0, part.indexOf('['));
        int index = Integer.parseInt(part.substring(part.indexOf('[') + 1, part.length() - 1));
        parent = parent.get(name).get(index);
      } else {
        parent = parent.has(part) ? parent.get(part) : ((ObjectNode) parent).putObject(part);
      }
    }
    String last = parts[parts.length - 1];
    if (value == REMOVE) {
      ((ObjectNode) parent).remove(last);
    } else {
      ((ObjectNode) parent).set(last, YAML.valueToTree(value));
    }
  }
}
