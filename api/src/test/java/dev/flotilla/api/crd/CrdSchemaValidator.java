package dev.flotilla.api.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Validates objects against a generated CRD the way the Kubernetes API server would: the structural
 * OpenAPI v3 schema (checked here as JSON Schema draft 4, which it is a dialect of) and the CEL
 * rules in {@code x-kubernetes-validations}. The in-memory API server used in tests does neither,
 * so this is where the schemas themselves are tested.
 */
final class CrdSchemaValidator {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final CelCompiler CEL_COMPILER =
      CelCompilerFactory.standardCelCompilerBuilder()
          .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
          .addVar("self", SimpleType.DYN)
          .build();
  private static final CelRuntime CEL_RUNTIME =
      CelRuntimeFactory.standardCelRuntimeBuilder().build();

  private final String kind;
  private final JsonNode openApiSchema;
  private final JsonSchema jsonSchema;

  private CrdSchemaValidator(String kind, JsonNode openApiSchema) {
    this.kind = kind;
    this.openApiSchema = openApiSchema;
    ObjectNode draft4 = openApiSchema.deepCopy();
    this.jsonSchema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(draft4);
  }

  static CrdSchemaValidator load(Path crdYaml) throws IOException {
    JsonNode crd = YAML.readTree(crdYaml.toFile());
    JsonNode version = crd.path("spec").path("versions").get(0);
    return new CrdSchemaValidator(
        crd.path("spec").path("names").path("kind").asText(),
        version.path("schema").path("openAPIV3Schema"));
  }

  String kind() {
    return kind;
  }

  /** Every violation as "path: message"; empty when the object is valid. */
  List<String> validate(JsonNode object) {
    List<String> errors = new ArrayList<>();
    for (ValidationMessage message : jsonSchema.validate(object)) {
      errors.add(message.getMessage() + " [" + message.getType() + "]");
    }
    if (errors.isEmpty()) {
      // CEL rules assume a structurally valid object, as on a real API server.
      checkRules(openApiSchema, object, "$", errors);
    }
    return errors;
  }

  private static void checkRules(
      JsonNode schema, JsonNode value, String path, List<String> errors) {
    if (value == null || value.isMissingNode() || value.isNull()) {
      return;
    }
    for (JsonNode rule : schema.path("x-kubernetes-validations")) {
      if (!evaluate(rule.path("rule").asText(), value)) {
        errors.add(
            path + ": " + rule.path("message").asText(rule.path("rule").asText()) + " [cel]");
      }
    }
    if (value.isObject()) {
      Iterator<Map.Entry<String, JsonNode>> properties = schema.path("properties").fields();
      while (properties.hasNext()) {
        Map.Entry<String, JsonNode> property = properties.next();
        checkRules(
            property.getValue(),
            value.get(property.getKey()),
            path + "." + property.getKey(),
            errors);
      }
      JsonNode additional = schema.path("additionalProperties");
      if (additional.isObject()) {
        value
            .fields()
            .forEachRemaining(
                e -> checkRules(additional, e.getValue(), path + "." + e.getKey(), errors));
      }
    } else if (value.isArray()) {
      for (int i = 0; i < value.size(); i++) {
        checkRules(schema.path("items"), value.get(i), path + "[" + i + "]", errors);
      }
    }
  }

  private static boolean evaluate(String rule, JsonNode self) {
    try {
      CelAbstractSyntaxTree ast = CEL_COMPILER.compile(rule).getAst();
      Object result = CEL_RUNTIME.createProgram(ast).eval(Map.of("self", toCel(self)));
      if (!(result instanceof Boolean b)) {
        throw new IllegalStateException("CEL rule does not yield a bool: " + rule);
      }
      return b;
    } catch (CelValidationException | CelEvaluationException e) {
      throw new IllegalStateException("CEL rule cannot be evaluated: " + rule, e);
    }
  }

  /** JSON to the values CEL expects: maps, lists, int64, double, string, bool. */
  private static Object toCel(JsonNode node) {
    if (node.isObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      node.fields().forEachRemaining(e -> map.put(e.getKey(), toCel(e.getValue())));
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>();
      node.forEach(n -> list.add(toCel(n)));
      return list;
    }
    if (node.isIntegralNumber()) {
      return node.asLong();
    }
    if (node.isNumber()) {
      return node.asDouble();
    }
    if (node.isBoolean()) {
      return node.asBoolean();
    }
    return node.asText();
  }
}
