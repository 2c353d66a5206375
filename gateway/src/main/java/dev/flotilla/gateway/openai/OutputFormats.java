package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.status.GatewayStatus;

/**
 * OpenAI's {@code response_format} and {@code tool_choice} → their {@code flotilla.v1} messages.
 * The worker compiles the schema and refuses unsupported keywords by name; here only the shape is
 * checked. {@code json_schema.strict} needs no mapping: the output always follows the schema.
 */
final class OutputFormats {
  private OutputFormats() {}

  /** {@code text} (or absent), {@code json_object}, or {@code json_schema} with its schema. */
  static ResponseFormat responseFormat(JsonNode body) {
    JsonNode format = body.path("response_format");
    if (format.isMissingNode() || format.isNull()) {
      return ResponseFormat.getDefaultInstance();
    }
    if (!format.isObject()) {
      throw GatewayStatus.invalidArgument("response_format", "must be an object with a type");
    }
    return switch (format.path("type").asText("")) {
      case "text" -> ResponseFormat.getDefaultInstance();
      case "json_object" ->
          ResponseFormat.newBuilder().setType(ResponseFormat.Type.JSON_OBJECT).build();
      case "json_schema" -> {
        JsonNode spec = format.path("json_schema");
        JsonNode schema = spec.path("schema");
        if (!spec.isObject() || !(schema.isObject() || schema.isBoolean())) {
          throw GatewayStatus.invalidArgument(
              "response_format.json_schema.schema", "must be a JSON Schema object");
        }
        yield ResponseFormat.newBuilder()
            .setType(ResponseFormat.Type.JSON_SCHEMA)
            .setSchemaJson(schema.toString())
            .setName(spec.path("name").asText(""))
            .build();
      }
      default ->
          throw GatewayStatus.invalidArgument(
              "response_format.type", "must be text, json_object or json_schema");
    };
  }

  /**
   * {@code auto} (or absent), {@code none}, {@code required}, or a named function; with {@code
   * parallel_tool_calls} (OpenAI's default true when absent).
   */
  static ToolChoice toolChoice(JsonNode body) {
    ToolChoice.Builder out = mode(body).toBuilder();
    JsonNode parallel = body.path("parallel_tool_calls");
    if (!parallel.isMissingNode() && !parallel.isNull()) {
      if (!parallel.isBoolean()) {
        throw GatewayStatus.invalidArgument("parallel_tool_calls", "must be a boolean");
      }
      out.setParallelToolCalls(parallel.asBoolean());
    }
    return out.build();
  }

  private static ToolChoice mode(JsonNode body) {
    JsonNode choice = body.path("tool_choice");
    if (choice.isMissingNode() || choice.isNull()) {
      return ToolChoice.getDefaultInstance();
    }
    ToolChoice out;
    if (choice.isTextual()) {
      out =
          switch (choice.asText()) {
            case "auto" -> ToolChoice.getDefaultInstance();
            case "none" -> ToolChoice.newBuilder().setMode(ToolChoice.Mode.NONE).build();
            case "required" -> ToolChoice.newBuilder().setMode(ToolChoice.Mode.REQUIRED).build();
            default ->
                throw GatewayStatus.invalidArgument(
                    "tool_choice", "must be auto, none, required or a function object");
          };
    } else if (choice.path("type").asText("").equals("function")
        && !choice.path("function").path("name").asText("").isEmpty()) {
      out =
          ToolChoice.newBuilder()
              .setMode(ToolChoice.Mode.FUNCTION)
              .setFunctionName(choice.path("function").path("name").asText())
              .build();
    } else {
      throw GatewayStatus.invalidArgument(
          "tool_choice", "must be auto, none, required or {type: function, function: {name}}");
    }
    boolean forced =
        out.getMode() == ToolChoice.Mode.REQUIRED || out.getMode() == ToolChoice.Mode.FUNCTION;
    JsonNode tools = body.path("tools");
    if (forced && !(tools.isArray() && !tools.isEmpty())) {
      throw GatewayStatus.invalidArgument("tool_choice", "required or a function needs tools");
    }
    return out;
  }
}
