package dev.flotilla.local.validation;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CRDs in crds/ accept the samples in examples/ and reject invalid objects with the error
 * kube-apiserver gives, word for word. Each invalid case starts from a valid sample of its kind and
 * makes one change, so it can only fail for that change.
 */
class CrdValidatorTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Map<String, CrdValidator> VALIDATORS = new HashMap<>();
  private static final Map<String, ObjectNode> SAMPLES = new HashMap<>();

  @BeforeAll
  static void loadSchemasAndSamples() throws IOException {
    try (Stream<Path> crds = Files.list(repoRoot().resolve("crds"))) {
      for (Path crd : crds.toList()) {
        CrdValidator validator = CrdValidator.load(crd);
        VALIDATORS.put(validator.kind(), validator);
      }
    }
    for (JsonNode doc : exampleDocuments()) {
      if (VALIDATORS.containsKey(doc.path("kind").asText())) {
        SAMPLES.putIfAbsent(doc.path("kind").asText(), (ObjectNode) doc);
      }
    }
  }

  @Test
  void everyKindHasASchemaAndASample() {
    assertThat(VALIDATORS)
        .containsOnlyKeys("ModelDeployment", "LoraAdapter", "Tenant", "GpuNodePool");
    assertThat(SAMPLES).containsOnlyKeys("ModelDeployment", "LoraAdapter", "Tenant", "GpuNodePool");
  }

  @Test
  void everyExampleDecodesWithoutUnknownFieldsAndIsValid() throws IOException {
    int checked = 0;
    for (JsonNode doc : exampleDocuments()) {
      CrdValidator validator = VALIDATORS.get(doc.path("kind").asText());
      if (validator != null) {
        CrdValidator.Decoded decoded = validator.decode((ObjectNode) doc);
        String name = doc.path("kind") + " " + doc.path("metadata").path("name");
        assertThat(decoded.unknownFields()).as(name).isEmpty();
        assertThat(validator.validate(decoded.object(), null)).as(name).isEmpty();
        checked++;
      }
    }
    assertThat(checked).isGreaterThanOrEqualTo(6);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidObjects")
  void invalidObjectIsRejectedAsKubeApiserverWordsIt(
      String description, String kind, String path, Object value, String expected) {
    ObjectNode object = SAMPLES.get(kind).deepCopy();
    set(object, path, value);
    CrdValidator validator = VALIDATORS.get(kind);

    List<String> errors =
        validator.validate(validator.decode(object).object(), null).stream()
            .map(FieldError::toString)
            .toList();

    assertThat(errors).as(description).contains(expected);
  }

  /** A JSON value marking a field to remove. */
  private static final Object REMOVE = new Object();

  static Stream<Arguments> invalidObjects() {
    return Stream.of(
        // ModelDeployment
        bad(
            "model is required",
            "ModelDeployment",
            "spec.model",
            REMOVE,
            "spec.model: Required value"),
        bad(
            "source is required",
            "ModelDeployment",
            "spec.model.source",
            REMOVE,
            "spec.model.source: Required value"),
        bad(
            "source scheme unknown",
            "ModelDeployment",
            "spec.model.source",
            "ftp://host/model",
            "spec.model.source: Invalid value: \"ftp://host/model\": spec.model.source in body"
                + " should match '^(file|pvc|hf|s3)://.+$'"),
        bad(
            "source with a trailing newline (RE2's $ is the end of the text)",
            "ModelDeployment",
            "spec.model.source",
            "file:///m\n",
            "spec.model.source: Invalid value: \"file:///m\\n\": spec.model.source in body"
                + " should match '^(file|pvc|hf|s3)://.+$'"),
        bad(
            "dtype not an enum value",
            "ModelDeployment",
            "spec.model.dtype",
            "INT4",
            "spec.model.dtype: Unsupported value: \"INT4\": supported values: \"BF16\", \"F16\","
                + " \"F32\", \"INT8\""),
        bad(
            "negative minReplicas",
            "ModelDeployment",
            "spec.scaling.minReplicas",
            -1,
            "spec.scaling.minReplicas: Invalid value: -1: spec.scaling.minReplicas in body should"
                + " be greater than or equal to 0"),
        bad(
            "min above max",
            "ModelDeployment",
            "spec.scaling.minReplicas",
            3,
            "spec.scaling: Invalid value: \"object\": minReplicas must not be greater than"
                + " maxReplicas"),
        bad(
            "duration without unit",
            "ModelDeployment",
            "spec.scaling.scaleToZeroAfter",
            "300",
            "spec.scaling.scaleToZeroAfter: Invalid value: \"300\": spec.scaling.scaleToZeroAfter"
                + " in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'"),
        bad(
            "targetConcurrency zero",
            "ModelDeployment",
            "spec.scaling.targetConcurrency",
            0,
            "spec.scaling.targetConcurrency: Invalid value: 0: spec.scaling.targetConcurrency in"
                + " body should be greater than or equal to 1"),
        bad(
            "panic threshold a fraction below 1",
            "ModelDeployment",
            "spec.scaling.panicThreshold",
            0.5,
            "spec.scaling.panicThreshold: Invalid value: 0.5: spec.scaling.panicThreshold in body"
                + " should be greater than or equal to 1"),
        bad(
            "max LoRA rank above 256",
            "ModelDeployment",
            "spec.engine.maxLoraRank",
            300,
            "spec.engine.maxLoraRank: Invalid value: 300: spec.engine.maxLoraRank in body should"
                + " be less than or equal to 256"),
        bad(
            "sequence length above 1048576 (an integer prints its bound as an integer)",
            "ModelDeployment",
            "spec.engine.maxSequenceLength",
            2_000_000,
            "spec.engine.maxSequenceLength: Invalid value: 2000000:"
                + " spec.engine.maxSequenceLength in body should be less than or equal to"
                + " 1048576"),
        bad(
            "sequence length a fraction (a float prints its bound as Go prints a float)",
            "ModelDeployment",
            "spec.engine.maxSequenceLength",
            2_000_000.5,
            "spec.engine.maxSequenceLength: Invalid value: 2.0000005e+06:"
                + " spec.engine.maxSequenceLength in body should be less than or equal to"
                + " 1.048576e+06"),
        bad(
            "KV memory not a quantity",
            "ModelDeployment",
            "spec.engine.kvCacheMemory",
            "lots",
            "spec.engine.kvCacheMemory: Invalid value: \"lots\": spec.engine.kvCacheMemory in"
                + " body should match '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$'"),
        bad(
            "replicas not an integer",
            "ModelDeployment",
            "spec.replicas",
            "two",
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type"
                + " integer: \"string\""),
        bad(
            "placement pools not a list",
            "ModelDeployment",
            "spec.placement.pools",
            "l4-pool",
            "spec.placement.pools: Invalid value: \"string\": spec.placement.pools in body must"
                + " be of type array: \"string\""),
        bad(
            "name not a DNS subdomain",
            "ModelDeployment",
            "metadata.name",
            "Tiny_Llama",
            "metadata.name: Invalid value: \"Tiny_Llama\": a lowercase RFC 1123 subdomain must"
                + " consist of lower case alphanumeric characters, '-' or '.', and must start and"
                + " end with an alphanumeric character (e.g. 'example.com', regex used for"
                + " validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        // LoraAdapter
        bad(
            "adapter base required",
            "LoraAdapter",
            "spec.modelDeployment",
            REMOVE,
            "spec.modelDeployment: Required value"),
        bad(
            "base name not a DNS name",
            "LoraAdapter",
            "spec.modelDeployment",
            "Tiny_Llama",
            "spec.modelDeployment: Invalid value: \"Tiny_Llama\": spec.modelDeployment in body"
                + " should match '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$'"),
        bad(
            "rank above 256",
            "LoraAdapter",
            "spec.rank",
            257,
            "spec.rank: Invalid value: 257: spec.rank in body should be less than or equal to"
                + " 256"),
        bad(
            "unknown visibility",
            "LoraAdapter",
            "spec.visibility",
            "Shared",
            "spec.visibility: Unsupported value: \"Shared\": supported values: \"Private\","
                + " \"Public\""),
        bad(
            "unknown target module",
            "LoraAdapter",
            "spec.targetModules",
            List.of("q_proj", "lm_head"),
            "spec.targetModules[1]: Unsupported value: \"lm_head\": supported values:"
                + " \"down_proj\", \"gate_proj\", \"k_proj\", \"o_proj\", \"q_proj\", \"up_proj\","
                + " \"v_proj\""),
        bad(
            "private adapter without tenant",
            "LoraAdapter",
            "spec.tenant",
            REMOVE,
            "spec: Invalid value: \"object\": a Private adapter needs an owning tenant"),
        // Tenant
        bad(
            "API key Secrets required",
            "Tenant",
            "spec.apiKeySecrets",
            REMOVE,
            "spec.apiKeySecrets: Required value"),
        bad(
            "API key Secrets empty",
            "Tenant",
            "spec.apiKeySecrets",
            List.of(),
            "spec.apiKeySecrets: Invalid value: 0: spec.apiKeySecrets in body should have at"
                + " least 1 items"),
        bad(
            "more than 16 API key Secrets",
            "Tenant",
            "spec.apiKeySecrets",
            Collections.nCopies(17, Map.of("name", "k", "namespace", "default")),
            "spec.apiKeySecrets: Too many: 17: must have at most 16 items"),
        bad(
            "Secret reference without name",
            "Tenant",
            "spec.apiKeySecrets[0].name",
            REMOVE,
            "spec.apiKeySecrets[0].name: Required value"),
        bad(
            "weight above 1000",
            "Tenant",
            "spec.weight",
            5000,
            "spec.weight: Invalid value: 5000: spec.weight in body should be less than or equal"
                + " to 1000"),
        bad(
            "unknown priority",
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
        bad(
            "max concurrent negative",
            "Tenant",
            "spec.limits.maxConcurrent",
            -4,
            "spec.limits.maxConcurrent: Invalid value: -4: spec.limits.maxConcurrent in body"
                + " should be greater than or equal to 1"),
        // GpuNodePool
        bad(
            "GPU description required",
            "GpuNodePool",
            "spec.gpu",
            REMOVE,
            "spec.gpu: Required value"),
        bad(
            "GPU memory not a quantity",
            "GpuNodePool",
            "spec.gpu.memory",
            "24 GB",
            "spec.gpu.memory: Invalid value: \"24 GB\": spec.gpu.memory in body should match"
                + " '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$'"),
        bad(
            "GPUs per node above 16",
            "GpuNodePool",
            "spec.gpu.perNode",
            17,
            "spec.gpu.perNode: Invalid value: 17: spec.gpu.perNode in body should be less than"
                + " or equal to 16"),
        bad(
            "negative cost",
            "GpuNodePool",
            "spec.costPerGpuHour",
            -0.5,
            "spec.costPerGpuHour: Invalid value: -0.5: spec.costPerGpuHour in body should be"
                + " greater than or equal to 0"),
        bad(
            "empty node selector",
            "GpuNodePool",
            "spec.nodeSelector",
            Map.of(),
            "spec.nodeSelector: Invalid value: 0: spec.nodeSelector in body should have at least"
                + " 1 properties"),
        bad(
            "node selector value not a string",
            "GpuNodePool",
            "spec.nodeSelector",
            Map.of("zone", 5),
            "spec.nodeSelector.zone: Invalid value: \"integer\": spec.nodeSelector.zone in body"
                + " must be of type string: \"integer\""));
  }

  @Test
  void aSchemaErrorThatMakesRulesMeaninglessSkipsThemAndSaysSo() {
    ObjectNode object = SAMPLES.get("ModelDeployment").deepCopy();
    set(object, "spec.scaling.maxReplicas", "two");
    set(object, "spec.scaling.minReplicas", 3);

    List<String> errors =
        VALIDATORS.get("ModelDeployment").validate(object, null).stream()
            .map(FieldError::toString)
            .toList();

    assertThat(errors)
        .containsExactly(
            "spec.scaling.maxReplicas: Invalid value: \"string\": spec.scaling.maxReplicas in"
                + " body must be of type integer: \"string\"",
            "<nil>: Invalid value: \"null\": some validation rules were not checked because the"
                + " object was invalid; correct the existing errors to complete validation");
  }

  @Test
  void decodingDropsUndeclaredFieldsAndListsTheirPathsSorted() {
    ObjectNode object = SAMPLES.get("GpuNodePool").deepCopy();
    set(object, "spec.zone", "a");
    set(object, "spec.gpu.vendor", "nvidia");
    ((ObjectNode) object.get("spec").get("tolerations").get(0)).put("color", "red");
    ((ObjectNode) object.get("metadata")).put("owner", "me");
    object.put("extra", true);

    CrdValidator.Decoded decoded = VALIDATORS.get("GpuNodePool").decode(object);

    assertThat(decoded.unknownFields())
        .containsExactly(
            "extra", "metadata.owner", "spec.gpu.vendor", "spec.tolerations[0].color", "spec.zone");
    assertThat(decoded.object().path("spec").has("zone")).isFalse();
    assertThat(decoded.object().path("spec").path("tolerations").get(0).has("color")).isFalse();
    assertThat(decoded.object().has("extra")).isFalse();
    assertThat(decoded.object().path("spec").path("nodeSelector").size()).isEqualTo(1);
  }

  @Test
  void decodingFillsDefaultsWhereTheParentExistsAndOnlyThere() {
    ObjectNode object = SAMPLES.get("ModelDeployment").deepCopy();
    ObjectNode spec = (ObjectNode) object.get("spec");
    spec.remove("engine");
    spec.putObject("scaling").putNull("maxReplicas");
    spec.putNull("image");

    JsonNode decoded = VALIDATORS.get("ModelDeployment").decode(object).object().get("spec");

    assertThat(decoded.get("scaling"))
        .hasToString(
            "{\"maxReplicas\":1,\"coldStartTimeout\":\"2m\",\"minReplicas\":0,"
                + "\"panicThreshold\":2.0,\"panicWindow\":\"6s\",\"scaleToZeroAfter\":\"5m\","
                + "\"stableWindow\":\"60s\",\"targetConcurrency\":8}");
    assertThat(decoded.has("engine")).as("no parent, no defaults").isFalse();
    assertThat(decoded.has("image")).as("a null that is neither nullable nor defaulted").isFalse();
    assertThat(decoded.path("resources").path("gpus").asInt()).isEqualTo(1);
  }

  // --- the schema features the product CRDs do not use, on a CRD of their own ---

  private static final String WIDGETS =
      """
      spec:
        group: example.dev
        names: {kind: Widget, plural: widgets}
        versions:
        - name: v1
          subresources: {status: {}}
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  x-kubernetes-validations:
                  - rule: "!has(oldSelf.size) || self.size >= oldSelf.size"
                    message: size may not shrink
                    fieldPath: .size
                  - rule: "!has(self.size) || self.size <= 10 || has(self.large)"
                    messageExpression: "'size ' + string(self.size) + ' needs large'"
                    reason: FieldValueForbidden
                  properties:
                    size: {type: integer}
                    large: {type: boolean}
                    port: {x-kubernetes-int-or-string: true}
                    label: {type: string, minLength: 2, maxLength: 5}
                    note: {type: string, nullable: true}
                    ratio: {type: number, multipleOf: 0.5, exclusiveMaximum: true, maximum: 2}
                    owner:
                      type: string
                      x-kubernetes-validations:
                      - rule: self == oldSelf
                        message: owner is immutable
                    items:
                      type: array
                      x-kubernetes-list-type: map
                      x-kubernetes-list-map-keys: [name]
                      items:
                        type: object
                        required: [name]
                        properties:
                          name: {type: string}
                          weight:
                            type: integer
                            x-kubernetes-validations:
                            - rule: self >= oldSelf
                              message: weight may not drop
                    extra:
                      type: object
                      x-kubernetes-preserve-unknown-fields: true
                      properties:
                        kept: {type: string}
      """;

  private static CrdValidator widgets() throws IOException {
    return CrdValidator.of(YAML.readTree(WIDGETS), "v1").orElseThrow();
  }

  private static ObjectNode widget(String spec) throws IOException {
    return (ObjectNode)
        YAML.readTree(
            "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: " + spec);
  }

  private static List<String> errors(CrdValidator v, ObjectNode object, ObjectNode old) {
    return v.validate(v.decode(object).object(), old).stream().map(FieldError::toString).toList();
  }

  @Test
  void intOrStringTakesEitherAndNothingElse() throws IOException {
    CrdValidator v = widgets();
    assertThat(errors(v, widget("{port: 8080}"), null)).isEmpty();
    assertThat(errors(v, widget("{port: http}"), null)).isEmpty();
    assertThat(errors(v, widget("{port: true}"), null))
        .contains(
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type"
                + " integer,string: \"boolean\"");
  }

  @Test
  void stringLengthsNullableAndMultiples() throws IOException {
    CrdValidator v = widgets();
    assertThat(errors(v, widget("{label: abcdef}"), null))
        .contains("spec.label: Too long: may not be longer than 5");
    assertThat(errors(v, widget("{label: a}"), null))
        .contains(
            "spec.label: Invalid value: \"a\": spec.label in body should be at least 2 chars"
                + " long");
    assertThat(errors(v, widget("{note: null, label: ok}"), null)).isEmpty();
    assertThat(errors(v, widget("{ratio: 0.75}"), null))
        .contains(
            "spec.ratio: Invalid value: 0.75: spec.ratio in body should be a multiple of 0.5");
    assertThat(errors(v, widget("{ratio: 2}"), null))
        .contains("spec.ratio: Invalid value: 2: spec.ratio in body should be less than 2");
  }

  @Test
  void preservedFieldsStayAndDeclaredOnesArePruned() throws IOException {
    CrdValidator.Decoded decoded =
        widgets().decode(widget("{extra: {kept: a, free: {any: 1}}, spare: 1}"));
    assertThat(decoded.unknownFields()).containsExactly("spec.spare");
    assertThat(decoded.object().path("spec").path("extra"))
        .hasToString("{\"kept\":\"a\",\"free\":{\"any\":1}}");
  }

  @Test
  void transitionRulesRunOnlyOnUpdateAndSeeTheOldValue() throws IOException {
    CrdValidator v = widgets();
    ObjectNode old = widget("{size: 5, owner: ann, items: [{name: a, weight: 3}]}");

    assertThat(errors(v, widget("{size: 4, owner: bob, items: [{name: a, weight: 1}]}"), null))
        .as("on create")
        .isEmpty();
    assertThat(errors(v, widget("{size: 4, owner: bob, items: [{name: a, weight: 1}]}"), old))
        .containsExactly(
            "spec.size: Invalid value: \"object\": size may not shrink",
            "spec.items[0].weight: Invalid value: \"integer\": weight may not drop",
            "spec.owner: Invalid value: \"string\": owner is immutable");
    assertThat(errors(v, widget("{size: 6, owner: ann, items: [{name: b, weight: 1}]}"), old))
        .as("a new map-list item has no old value")
        .isEmpty();
  }

  @Test
  void messageExpressionAndReasonShapeTheError() throws IOException {
    assertThat(errors(widgets(), widget("{size: 11}"), null))
        .containsExactly("spec: Forbidden: size 11 needs large");
  }

  // --- helpers ---

  private static Arguments bad(
      String description, String kind, String path, Object value, String expected) {
    return Arguments.of(description, kind, path, value, expected);
  }

  /**
   * Sets (or with {@link #REMOVE} deletes) the field at a dotted path such as {@code spec.a[0].b}.
   */
  private static void set(ObjectNode root, String path, Object value) {
    String[] parts = path.split("\\.");
    JsonNode parent = root;
    for (int i = 0; i < parts.length - 1; i++) {
      parent = step(parent, parts[i]);
    }
    ObjectNode target = (ObjectNode) parent;
    String last = parts[parts.length - 1];
    if (value == REMOVE) {
      target.remove(last);
    } else {
      target.set(last, YAML.valueToTree(value));
    }
  }

  private static JsonNode step(JsonNode node, String part) {
    if (part.endsWith("]")) {
      String name = part.substring(0, part.indexOf('['));
      int index = Integer.parseInt(part.substring(part.indexOf('[') + 1, part.length() - 1));
      return node.get(name).get(index);
    }
    JsonNode next = node.get(part);
    if (next == null) {
      next = ((ObjectNode) node).putObject(part);
    }
    return next;
  }

  private static List<JsonNode> exampleDocuments() throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (Stream<Path> files = Files.list(repoRoot().resolve("examples"))) {
      for (Path file : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (YAMLParser parser = new YAMLFactory().createParser(file.toFile())) {
          docs.addAll(YAML.readValues(parser, JsonNode.class).readAll());
        }
      }
    }
    return docs;
  }

  private static Path repoRoot() {
    return Path.of(System.getProperty("flotilla.repo.root", "..")).toAbsolutePath().normalize();
  }
}
