package dev.flotilla.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.gateway.status.GatewayStatus;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

/**
 * {@code POST /v1/embeddings} in OpenAI's shapes: the body to an {@link EmbedRequest}, and the
 * vectors to the response object. {@code input} is a string, a list of strings, a list of token ids
 * or a list of token id lists; {@code encoding_format} is {@code float} (JSON numbers) or {@code
 * base64} (the little-endian float32 bytes, which OpenAI's clients ask for by default and decode);
 * {@code dimensions} must be the model's own (the worker refuses any other).
 */
final class OpenAiEmbeddings {
  private OpenAiEmbeddings() {}

  /** How the vectors are written. */
  enum Encoding {
    FLOAT,
    BASE64
  }

  /** The encoding a body asks for; refused when it names another. */
  static Encoding encoding(JsonNode body) {
    JsonNode f = body == null ? null : body.path("encoding_format");
    if (f == null || f.isMissingNode() || f.isNull()) {
      return Encoding.FLOAT;
    }
    return switch (f.asText()) {
      case "float" -> Encoding.FLOAT;
      case "base64" -> Encoding.BASE64;
      default -> throw GatewayStatus.invalidArgument("encoding_format", "use float or base64");
    };
  }

  /** The pipeline request for a body. */
  static EmbedRequest toEmbedRequest(JsonNode body, String requestId) {
    if (body == null || !body.isObject()) {
      throw GatewayStatus.invalidArgument("body", "must be a JSON object");
    }
    EmbedRequest.Builder r = EmbedRequest.newBuilder().setRequestId(requestId);
    JsonNode m = body.path("model");
    if (!m.isTextual() || m.asText().isBlank()) {
      throw GatewayStatus.invalidArgument("model", "must be a non-empty string");
    }
    String model = m.asText();
    int colon = model.indexOf(':');
    String base = colon < 0 ? model : model.substring(0, colon);
    if (base.isEmpty() || (colon >= 0 && colon == model.length() - 1)) {
      throw GatewayStatus.invalidArgument("model", "use base or base:adapter");
    }
    r.setModel(base).setAdapter(colon < 0 ? "" : model.substring(colon + 1));
    inputs(body.path("input"), r);
    encoding(body);
    JsonNode d = body.path("dimensions");
    if (!d.isMissingNode() && !d.isNull()) {
      if (!d.isIntegralNumber() || !d.canConvertToInt() || d.asInt() < 1) {
        throw GatewayStatus.invalidArgument("dimensions", "must be a positive integer");
      }
      r.setDimensions(d.asInt());
    }
    return r.build();
  }

  private static void inputs(JsonNode input, EmbedRequest.Builder r) {
    String shape = "must be a string, a list of strings, a list of token ids or a list of lists";
    if (input.isTextual()) {
      r.addInputs(EmbedInput.newBuilder().setText(input.asText()));
      return;
    }
    if (!input.isArray() || input.isEmpty()) {
      throw GatewayStatus.invalidArgument("input", shape + ", not empty");
    }
    if (input.get(0).isNumber()) {
      r.addInputs(EmbedInput.newBuilder().setTokenIds(tokenIds(input, shape)));
      return;
    }
    for (JsonNode item : input) {
      if (item.isTextual()) {
        r.addInputs(EmbedInput.newBuilder().setText(item.asText()));
      } else if (item.isArray()) {
        r.addInputs(EmbedInput.newBuilder().setTokenIds(tokenIds(item, shape)));
      } else {
        throw GatewayStatus.invalidArgument("input", shape);
      }
    }
  }

  private static TokenIds tokenIds(JsonNode list, String shape) {
    TokenIds.Builder ids = TokenIds.newBuilder();
    for (JsonNode id : list) {
      if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
        throw GatewayStatus.invalidArgument("input", shape + " (token ids are integers >= 0)");
      }
      ids.addIds(id.asInt());
    }
    return ids.build();
  }

  /** OpenAI's embeddings response. */
  static ObjectNode response(
      ObjectMapper json, String model, List<Embedding> vectors, Encoding encoding, Final fin) {
    ObjectNode out = json.createObjectNode().put("object", "list");
    ArrayNode data = out.putArray("data");
    for (int i = 0; i < vectors.size(); i++) {
      ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
      List<Float> values = vectors.get(i).getValuesList();
      if (encoding == Encoding.BASE64) {
        ByteBuffer bytes = ByteBuffer.allocate(values.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
        values.forEach(bytes::putFloat);
        item.put("embedding", Base64.getEncoder().encodeToString(bytes.array()));
      } else {
        ArrayNode e = item.putArray("embedding");
        values.forEach(e::add);
      }
    }
    out.put("model", model);
    out.putObject("usage")
        .put("prompt_tokens", fin.getUsage().getPromptTokens())
        .put("total_tokens", fin.getUsage().getTotalTokens());
    return out;
  }
}
