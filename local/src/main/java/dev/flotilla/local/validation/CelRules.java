package dev.flotilla.local.validation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.SimpleType;
import dev.cel.common.values.NullValue;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code x-kubernetes-validations} rules of a schema, evaluated as kube-apiserver evaluates
 * them: each rule on the value its schema node describes ({@code self}), a transition rule (one
 * that names {@code oldSelf}) only on update and only where the old object has a value at the same
 * place (through object fields, map keys and the items of {@code x-kubernetes-list-type: map} or
 * {@code set} lists). A false rule is an error at the node's path (plus the rule's {@code
 * fieldPath}), of the rule's {@code reason}, with its {@code messageExpression}, {@code message} or
 * {@code failed rule: <rule>} as detail, and for {@code Invalid value} the node's type as value:
 * {@code spec.scaling: Invalid value: "object": minReplicas must not be greater than maxReplicas}.
 *
 * <p>Values are typed by the schema: {@code integer} as int, {@code number} as double (a JSON
 * {@code 1} in a number field compares as {@code 1.0}), the rest as JSON decodes them.
 */
final class CelRules {
  private static final CelOptions OPTIONS =
      CelOptions.current().enableHeterogeneousNumericComparisons(true).build();
  private static final CelCompiler COMPILER =
      CelCompilerFactory.standardCelCompilerBuilder()
          .setOptions(OPTIONS)
          .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
          .addLibraries(
              CelExtensions.strings(), CelExtensions.sets(OPTIONS), CelExtensions.optional())
          .addVar("self", SimpleType.DYN)
          .addVar("oldSelf", SimpleType.DYN)
          .build();
  private static final CelRuntime RUNTIME =
      CelRuntimeFactory.standardCelRuntimeBuilder()
          .setOptions(OPTIONS)
          .addLibraries(
              CelExtensions.strings(), CelExtensions.sets(OPTIONS), CelExtensions.optional())
          .build();
  private static final Map<String, Compiled> COMPILED = new ConcurrentHashMap<>();
  private static final Pattern FIELD_PATH_STEP =
      Pattern.compile("\\.([A-Za-z_][A-Za-z0-9_]*)|\\['((?:[^'\\\\]|\\\\.)*)'\\]|\\[(\\d+)\\]");

  /** A compiled expression, or why it does not compile. */
  private record Compiled(CelRuntime.Program program, boolean transition, String error) {}

  private CelRules() {}

  /**
   * @param old the object before this update, or null on create
   */
  static List<FieldError> validate(Schema root, JsonNode object, JsonNode old) {
    List<FieldError> errors = new ArrayList<>();
    walk(root, "", rootView(object), old == null ? null : rootView(old), errors);
    return errors;
  }

  /** At the root, rules see only {@code metadata.name} and {@code metadata.generateName}. */
  private static JsonNode rootView(JsonNode object) {
    JsonNode view = object.deepCopy();
    if (view.path("metadata").isObject()) {
      ((ObjectNode) view.get("metadata")).retain("name", "generateName");
    }
    return view;
  }

  private static void walk(
      Schema schema, String path, JsonNode value, JsonNode old, List<FieldError> errors) {
    if (schema == null || value == null || value.isNull() || value.isMissingNode()) {
      return;
    }
    for (JsonNode rule : schema.validations()) {
      check(rule, schema, path, value, old, errors);
    }
    if (value.isObject()) {
      Schema values = schema.additionalProperties();
      if (values != null) {
        new TreeMap<>(toMap(value))
            .forEach(
                (key, v) ->
                    walk(
                        values,
                        path + "[" + key + "]",
                        v,
                        old == null ? null : old.get(key),
                        errors));
      } else {
        schema
            .properties()
            .forEach(
                (name, property) -> {
                  if (value.has(name)) {
                    walk(
                        property,
                        path.isEmpty() ? name : path + "." + name,
                        value.get(name),
                        old == null ? null : old.get(name),
                        errors);
                  }
                });
      }
    } else if (value.isArray() && schema.items() != null) {
      for (int i = 0; i < value.size(); i++) {
        JsonNode item = value.get(i);
        walk(schema.items(), path + "[" + i + "]", item, oldItem(schema, item, old), errors);
      }
    }
  }

  private static Map<String, JsonNode> toMap(JsonNode object) {
    Map<String, JsonNode> map = new LinkedHashMap<>();
    object.fields().forEachRemaining(e -> map.put(e.getKey(), e.getValue()));
    return map;
  }

  /** The old item that corresponds to {@code item}: by key in map lists, by value in sets. */
  private static JsonNode oldItem(Schema list, JsonNode item, JsonNode old) {
    if (old == null || !old.isArray()) {
      return null;
    }
    switch (list.listType()) {
      case "map" -> {
        List<String> keys = list.listMapKeys();
        for (JsonNode candidate : old) {
          if (keys.stream().allMatch(k -> item.path(k).equals(candidate.path(k)))) {
            return candidate;
          }
        }
        return null;
      }
      case "set" -> {
        for (JsonNode candidate : old) {
          if (candidate.equals(item)) {
            return candidate;
          }
        }
        return null;
      }
      default -> {
        return null;
      }
    }
  }

  private static void check(
      JsonNode rule,
      Schema schema,
      String path,
      JsonNode value,
      JsonNode old,
      List<FieldError> errors) {
    String text = rule.path("rule").asText();
    String field = OpenApiChecks.field(path + fieldPath(rule.path("fieldPath").asText("")));
    String type = schema.type();
    Compiled compiled = compile(text);
    if (compiled.error() != null) {
      errors.add(FieldError.invalid(field, type, "rule compile error: " + compiled.error()));
      return;
    }
    if (compiled.transition() && old == null) {
      return;
    }
    Map<String, Object> vars = new HashMap<>();
    vars.put("self", toCel(value, schema));
    if (old != null) {
      vars.put("oldSelf", toCel(old, schema));
    }
    Object result;
    try {
      result = compiled.program().eval(vars);
    } catch (CelEvaluationException e) {
      errors.add(
          FieldError.invalid(
              field, type, e.getMessage() + " evaluating rule: " + ruleErrorString(rule)));
      return;
    }
    if (Boolean.TRUE.equals(result)) {
      return;
    }
    String detail = message(rule, vars);
    errors.add(
        switch (rule.path("reason").asText("FieldValueInvalid")) {
          case "FieldValueRequired" -> FieldError.required(field, detail);
          case "FieldValueForbidden" ->
              new FieldError(FieldError.Type.FORBIDDEN, field, "", detail);
          case "FieldValueDuplicate" -> new FieldError(FieldError.Type.DUPLICATE, field, type, "");
          default -> FieldError.invalid(field, type, detail);
        });
  }

  private static String message(JsonNode rule, Map<String, Object> vars) {
    String expression = rule.path("messageExpression").asText("");
    if (!expression.isEmpty()) {
      Compiled compiled = compile(expression);
      if (compiled.error() == null) {
        try {
          if (compiled.program().eval(vars) instanceof String s
              && !s.isBlank()
              && !s.contains("\n")) {
            return s.strip();
          }
        } catch (CelEvaluationException e) {
          // Falls back to the message, as kube-apiserver does.
        }
      }
    }
    String message = rule.path("message").asText("").strip();
    return message.isEmpty() ? "failed rule: " + ruleErrorString(rule) : message;
  }

  private static String ruleErrorString(JsonNode rule) {
    String message = rule.path("message").asText("").strip();
    return message.isEmpty() ? rule.path("rule").asText().strip() : message;
  }

  /** A rule's {@code fieldPath} ({@code .a.b}, {@code ['x.y']}, {@code [0]}) as a path suffix. */
  private static String fieldPath(String fieldPath) {
    StringBuilder suffix = new StringBuilder();
    Matcher m = FIELD_PATH_STEP.matcher(fieldPath);
    while (m.find()) {
      if (m.group(1) != null) {
        suffix.append('.').append(m.group(1));
      } else if (m.group(2) != null) {
        suffix.append('.').append(m.group(2).replace("\\'", "'"));
      } else {
        suffix.append('[').append(m.group(3)).append(']');
      }
    }
    return suffix.toString();
  }

  private static Compiled compile(String expression) {
    return COMPILED.computeIfAbsent(
        expression,
        e -> {
          try {
            CelAbstractSyntaxTree ast = COMPILER.compile(e).getAst();
            boolean transition =
                ast.getReferenceMap().values().stream().anyMatch(r -> r.name().equals("oldSelf"));
            return new Compiled(RUNTIME.createProgram(ast), transition, null);
          } catch (CelValidationException | CelEvaluationException ex) {
            return new Compiled(null, false, ex.getMessage());
          }
        });
  }

  /** JSON to the values CEL sees, typed by the schema where it declares a type. */
  private static Object toCel(JsonNode node, Schema schema) {
    if (node == null || node.isNull()) {
      return NullValue.NULL_VALUE;
    }
    if (node.isObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      node.fields()
          .forEachRemaining(
              e -> {
                Schema child = null;
                if (schema != null) {
                  child = schema.property(e.getKey());
                  if (child == null) {
                    child = schema.additionalProperties();
                  }
                }
                map.put(e.getKey(), toCel(e.getValue(), child));
              });
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>();
      node.forEach(item -> list.add(toCel(item, schema == null ? null : schema.items())));
      return list;
    }
    if (node.isNumber()) {
      String type = schema == null ? "" : schema.type();
      if (type.equals("number")) {
        return node.doubleValue();
      }
      if (type.equals("integer") || node.isIntegralNumber()) {
        return node.longValue();
      }
      return node.doubleValue();
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    return node.asText();
  }
}
