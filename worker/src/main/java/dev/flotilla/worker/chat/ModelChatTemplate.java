package dev.flotilla.worker.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The chat templates a model directory ships, found as {@code transformers} finds them: the file
 * {@code chat_template.jinja}, else {@code chat_template} in {@code tokenizer_config.json} (a
 * string, or a list of {@code {"name", "template"}} objects), and the special tokens the templates
 * read ({@code bos_token}, {@code eos_token}, ...: strings, or objects with a {@code content}).
 *
 * @param templates by name; a single template is named {@value #DEFAULT}
 * @param specialTokens {@code bos_token} and the like, by variable name
 */
public record ModelChatTemplate(Map<String, String> templates, Map<String, String> specialTokens) {
  public static final String DEFAULT = "default";
  public static final String TOOL_USE = "tool_use";
  static final String JINJA_FILE = "chat_template.jinja";
  static final String CONFIG_FILE = "tokenizer_config.json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] SPECIAL_TOKENS = {
    "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"
  };

  /**
   * The model's templates; empty when it ships none.
   *
   * @throws IOException when a file exists but cannot be read or is malformed (the message names
   *     it)
   */
  public static Optional<ModelChatTemplate> load(Path modelDir) throws IOException {
    Map<String, String> templates = new LinkedHashMap<>();
    Map<String, String> tokens = new LinkedHashMap<>();
    Path config = modelDir.resolve(CONFIG_FILE);
    if (Files.isRegularFile(config)) {
      JsonNode json;
      try {
        json = JSON.readTree(config.toFile());
      } catch (IOException e) {
        throw new IOException("cannot read " + config + ": " + e.getMessage(), e);
      }
      JsonNode template = json.path("chat_template");
      if (template.isTextual()) {
        templates.put(DEFAULT, template.asText());
      } else if (template.isArray()) {
        for (JsonNode named : template) {
          if (!named.path("name").isTextual() || !named.path("template").isTextual()) {
            throw new IOException(
                config + ": chat_template lists must hold {\"name\": ..., \"template\": ...}");
          }
          templates.put(named.get("name").asText(), named.get("template").asText());
        }
      }
      for (String name : SPECIAL_TOKENS) {
        JsonNode token = json.path(name);
        if (token.isTextual()) {
          tokens.put(name, token.asText());
        } else if (token.path("content").isTextual()) {
          tokens.put(name, token.get("content").asText());
        }
      }
    }
    Path jinja = modelDir.resolve(JINJA_FILE);
    if (Files.isRegularFile(jinja)) {
      templates.put(DEFAULT, Files.readString(jinja, StandardCharsets.UTF_8));
    }
    return templates.isEmpty()
        ? Optional.empty()
        : Optional.of(
            new ModelChatTemplate(
                Collections.unmodifiableMap(templates), Collections.unmodifiableMap(tokens)));
  }

  /**
   * The template for a request, as transformers picks it: {@value #TOOL_USE} when tools are passed
   * and the model has one, else {@value #DEFAULT}.
   *
   * @throws ChatTemplateException when the model's templates are all named otherwise
   */
  public String pick(boolean withTools) throws ChatTemplateException {
    if (withTools && templates.containsKey(TOOL_USE)) {
      return templates.get(TOOL_USE);
    }
    String template = templates.get(DEFAULT);
    if (template == null) {
      throw new ChatTemplateException(
          "the model has chat templates named "
              + String.join(", ", templates.keySet())
              + " but none named default");
    }
    return template;
  }
}
