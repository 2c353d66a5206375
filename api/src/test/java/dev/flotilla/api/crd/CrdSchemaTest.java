package dev.flotilla.api.crd;

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
 * The generated schemas accept the samples in examples/ and reject invalid objects with a message
 * that names the field and the reason. Each invalid case starts from a valid sample of its kind and
 * applies one change, so it can only fail for that change.
 */
class CrdSchemaTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Map<String, CrdSchemaValidator> VALIDATORS = new HashMap<>();
  private static final Map<String, JsonNode> SAMPLES = new HashMap<>();

  @BeforeAll
  static void loadSchemasAndSamples() throws IOException {
    try (Stream<Path> crds = Files.list(RepositoryFiles.root().resolve("crds"))) {
      for (Path crd : crds.toList()) {
        CrdSchemaValidator validator = CrdSchemaValidator.load(crd);
        VALIDATORS.put(validator.kind(), validator);
      }
    }
    for (JsonNode doc : exampleDocuments()) {
      if (VALIDATORS.containsKey(doc.path("kind").asText())) {
        SAMPLES.putIfAbsent(doc.path("kind").asText(), doc);
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
  void everyExampleIsAccepted() throws IOException {
    int checked = 0;
    for (JsonNode doc : exampleDocuments()) {
      CrdSchemaValidator validator = VALIDATORS.get(doc.path("kind").asText());
      if (validator != null) {
        assertThat(validator.validate(doc))
            .as("%s %s", doc.path("kind"), doc.path("metadata").path("name"))
            .isEmpty();
        checked++;
      }
    }
    assertThat(checked).isGreaterThanOrEqualTo(6);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidObjects")
  void invalidObjectIsRejectedForTheRightReason(
      String description, String kind, String path, Object value, String expectedFragment) {
    ObjectNode object = SAMPLES.get(kind).deepCopy();
    set(object, path, value);

    List<String> errors = VALIDATORS.get(kind).validate(object);

    assertThat(errors).as(description).isNotEmpty();
    assertThat(errors).as(description).anySatisfy(e -> assertThat(e).contains(expectedFragment));
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
            "$.spec: required property 'model' not found"),
        bad(
            "source is required",
            "ModelDeployment",
            "spec.model.source",
            REMOVE,
            "required property 'source'"),
        bad(
            "source scheme unknown",
            "ModelDeployment",
            "spec.model.source",
            "ftp://host/model",
            "$.spec.model.source: does not match the regex pattern"),
        bad(
            "dtype not an enum value",
            "ModelDeployment",
            "spec.model.dtype",
            "INT4",
            "$.spec.model.dtype: does not have a value in the enumeration"),
        bad(
            "negative minReplicas",
            "ModelDeployment",
            "spec.scaling.minReplicas",
            -1,
            "$.spec.scaling.minReplicas: must have a minimum value of 0"),
        bad(
            "min above max",
            "ModelDeployment",
            "spec.scaling.minReplicas",
            3,
            "$.spec.scaling: minReplicas must not be greater than maxReplicas [cel]"),
        bad(
            "duration without unit",
            "ModelDeployment",
            "spec.scaling.scaleToZeroAfter",
            "300",
            "$.spec.scaling.scaleToZeroAfter: does not match the regex pattern"),
        bad(
            "duration in words",
            "ModelDeployment",
            "spec.scaling.coldStartTimeout",
            "two minutes",
            "$.spec.scaling.coldStartTimeout: does not match the regex pattern"),
        bad(
            "targetConcurrency zero",
            "ModelDeployment",
            "spec.scaling.targetConcurrency",
            0,
            "$.spec.scaling.targetConcurrency: must have a minimum value of 1"),
        bad(
            "max LoRA rank above 256",
            "ModelDeployment",
            "spec.engine.maxLoraRank",
            300,
            "$.spec.engine.maxLoraRank: must have a maximum value of 256"),
        bad(
            "KV block size zero",
            "ModelDeployment",
            "spec.engine.kvBlockSize",
            0,
            "$.spec.engine.kvBlockSize: must have a minimum value of 1"),
        bad(
            "KV memory not a quantity",
            "ModelDeployment",
            "spec.engine.kvCacheMemory",
            "lots",
            "$.spec.engine.kvCacheMemory: does not match the regex pattern"),
        bad(
            "GPUs per replica above 16",
            "ModelDeployment",
            "spec.resources.gpus",
            17,
            "$.spec.resources.gpus: must have a maximum value of 16"),
        bad(
            "negative replicas",
            "ModelDeployment",
            "spec.replicas",
            -2,
            "$.spec.replicas: must have a minimum value of 0"),
        bad(
            "replicas not an integer",
            "ModelDeployment",
            "spec.replicas",
            "two",
            "$.spec.replicas: string found, integer expected"),
        // LoraAdapter
        bad(
            "adapter source required",
            "LoraAdapter",
            "spec.source",
            REMOVE,
            "$.spec: required property 'source' not found"),
        bad(
            "adapter base required",
            "LoraAdapter",
            "spec.modelDeployment",
            REMOVE,
            "$.spec: required property 'modelDeployment' not found"),
        bad(
            "base name not a DNS name",
            "LoraAdapter",
            "spec.modelDeployment",
            "Tiny_Llama",
            "$.spec.modelDeployment: does not match the regex pattern"),
        bad(
            "rank zero",
            "LoraAdapter",
            "spec.rank",
            0,
            "$.spec.rank: must have a minimum value of 1"),
        bad(
            "rank above 256",
            "LoraAdapter",
            "spec.rank",
            257,
            "$.spec.rank: must have a maximum value of 256"),
        bad(
            "unknown visibility",
            "LoraAdapter",
            "spec.visibility",
            "Shared",
            "$.spec.visibility: does not have a value in the enumeration"),
        bad(
            "unknown target module",
            "LoraAdapter",
            "spec.targetModules",
            List.of("q_proj", "lm_head"),
            "$.spec.targetModules[1]: does not have a value in the enumeration"),
        bad(
            "private adapter without tenant",
            "LoraAdapter",
            "spec.tenant",
            REMOVE,
            "$.spec: a Private adapter needs an owning tenant [cel]"),
        // Tenant
        bad(
            "API key Secrets required",
            "Tenant",
            "spec.apiKeySecrets",
            REMOVE,
            "$.spec: required property 'apiKeySecrets' not found"),
        bad(
            "API key Secrets empty",
            "Tenant",
            "spec.apiKeySecrets",
            List.of(),
            "$.spec.apiKeySecrets: must have at least 1 items"),
        bad(
            "Secret reference without name",
            "Tenant",
            "spec.apiKeySecrets[0].name",
            REMOVE,
            "$.spec.apiKeySecrets[0]: required property 'name' not found"),
        bad(
            "weight zero",
            "Tenant",
            "spec.weight",
            0,
            "$.spec.weight: must have a minimum value of 1"),
        bad(
            "weight above 1000",
            "Tenant",
            "spec.weight",
            5000,
            "$.spec.weight: must have a maximum value of 1000"),
        bad(
            "unknown priority",
            "Tenant",
            "spec.priority",
            "Urgent",
            "$.spec.priority: does not have a value in the enumeration"),
        bad(
            "tokens per minute zero",
            "Tenant",
            "spec.limits.tokensPerMinute",
            0,
            "$.spec.limits.tokensPerMinute: must have a minimum value of 1"),
        bad(
            "max concurrent negative",
            "Tenant",
            "spec.limits.maxConcurrent",
            -4,
            "$.spec.limits.maxConcurrent: must have a minimum value of 1"),
        // GpuNodePool
        bad(
            "GPU description required",
            "GpuNodePool",
            "spec.gpu",
            REMOVE,
            "$.spec: required property 'gpu' not found"),
        bad(
            "GPU memory not a quantity",
            "GpuNodePool",
            "spec.gpu.memory",
            "24 GB",
            "$.spec.gpu.memory: does not match the regex pattern"),
        bad(
            "GPUs per node zero",
            "GpuNodePool",
            "spec.gpu.perNode",
            0,
            "$.spec.gpu.perNode: must have a minimum value of 1"),
        bad(
            "negative max nodes",
            "GpuNodePool",
            "spec.maxNodes",
            -1,
            "$.spec.maxNodes: must have a minimum value of 0"),
        bad(
            "negative cost",
            "GpuNodePool",
            "spec.costPerGpuHour",
            -0.5,
            "$.spec.costPerGpuHour: must have a minimum value of 0"),
        bad(
            "empty node selector",
            "GpuNodePool",
            "spec.nodeSelector",
            Map.of(),
            "$.spec.nodeSelector: must have at least 1 properties"));
  }

  private static Arguments bad(
      String description, String kind, String path, Object value, String fragment) {
    return Arguments.of(description, kind, path, value, fragment);
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
    String last = parts[parts.length - 1];
    ObjectNode target =
        (ObjectNode)
            (last.contains("[") ? step(parent, last.substring(0, last.indexOf('['))) : parent);
    if (last.contains("[")) {
      throw new IllegalArgumentException("cannot set an array element: " + path);
    }
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
    try (Stream<Path> files = Files.list(RepositoryFiles.root().resolve("examples"))) {
      for (Path file : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (YAMLParser parser = new YAMLFactory().createParser(file.toFile())) {
          docs.addAll(YAML.readValues(parser, JsonNode.class).readAll());
        }
      }
    }
    return docs;
  }
}
