package dev.flotilla.gateway.openai;

import dev.flotilla.gateway.status.GatewayStatus;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * How {@code /v1/chat/completions} turns messages into the prompt text the worker tokenizes.
 *
 * <p><b>Why built-in templates and not the model's Jinja {@code chat_template}:</b> the template
 * lives in the model directory's {@code tokenizer_config.json}, which only workers read; the
 * gateway has no model files and no Jinja engine. Instead a {@code ModelDeployment} names its
 * family's template with the annotation {@code flotilla.dev/chat-template} (see {@link
 * dev.flotilla.gateway.catalog.ModelEntry#CHAT_TEMPLATE_ANNOTATION}), and the gateway renders that
 * family's well-known format below, with {@code add_generation_prompt} on. A model whose template
 * is none of these renders wrongly; the annotation is the owner's promise that it is one of them.
 * Without the annotation the template is {@link #ZEPHYR}: the format of the tiny model Flotilla
 * generates (and of TinyLlama-Chat).
 *
 * <p>The BOS token is never written: the worker's tokenizer adds it (its {@code tokenizer.json}
 * post-processor does, as Llama-family tokenizers do), and writing it too would double it. EOS and
 * other special tokens are written as text; the tokenizer maps them to their ids.
 */
public enum ChatTemplate {
  /** {@code <|role|>\ncontent</s>\n} per message, then {@code <|assistant|>\n}. */
  ZEPHYR("zephyr") {
    @Override
    String render(List<Message> messages) {
      StringBuilder out = new StringBuilder();
      for (Message m : messages) {
        out.append("<|").append(m.role()).append("|>\n").append(m.content()).append("</s>\n");
      }
      return out.append("<|assistant|>\n").toString();
    }
  },
  /** Llama 3 / 3.1 Instruct headers with {@code <|eot_id|>}. */
  LLAMA3("llama3") {
    @Override
    String render(List<Message> messages) {
      StringBuilder out = new StringBuilder();
      for (Message m : messages) {
        out.append("<|start_header_id|>")
            .append(m.role())
            .append("<|end_header_id|>\n\n")
            .append(m.content().strip())
            .append("<|eot_id|>");
      }
      return out.append("<|start_header_id|>assistant<|end_header_id|>\n\n").toString();
    }
  },
  /** ChatML ({@code <|im_start|>role\n...<|im_end|>}), as Qwen2; no default system message. */
  CHATML("chatml") {
    @Override
    String render(List<Message> messages) {
      StringBuilder out = new StringBuilder();
      for (Message m : messages) {
        out.append("<|im_start|>")
            .append(m.role())
            .append('\n')
            .append(m.content())
            .append("<|im_end|>\n");
      }
      return out.append("<|im_start|>assistant\n").toString();
    }
  },
  /** Llama 2 chat: {@code [INST] <<SYS>>...<</SYS>> user [/INST] answer </s><s>[INST] ...}. */
  LLAMA2("llama2") {
    @Override
    String render(List<Message> messages) {
      Turns t = Turns.of(messages);
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < t.turns().size(); i++) {
        Message m = t.turns().get(i);
        if (m.role().equals("user")) {
          if (i > 0) {
            out.append("<s>");
          }
          String content = m.content().strip();
          if (i == 0 && t.system() != null) {
            content = "<<SYS>>\n" + t.system().strip() + "\n<</SYS>>\n\n" + content;
          }
          out.append("[INST] ").append(content).append(" [/INST]");
        } else {
          out.append(' ').append(m.content().strip()).append(" </s>");
        }
      }
      return out.toString();
    }
  },
  /** Mistral Instruct v0.1-v0.3: {@code [INST] user [/INST]answer</s>}; system joins user 1. */
  MISTRAL("mistral") {
    @Override
    String render(List<Message> messages) {
      Turns t = Turns.of(messages);
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < t.turns().size(); i++) {
        Message m = t.turns().get(i);
        if (m.role().equals("user")) {
          String content =
              i == 0 && t.system() != null ? t.system() + "\n\n" + m.content() : m.content();
          out.append("[INST] ").append(content).append(" [/INST]");
        } else {
          out.append(m.content()).append("</s>");
        }
      }
      return out.toString();
    }
  };

  /** The template of models that name none. */
  public static final ChatTemplate DEFAULT = ZEPHYR;

  /** One chat message: role {@code system}, {@code user} or {@code assistant}, and its text. */
  public record Message(String role, String content) {}

  private final String annotationValue;

  ChatTemplate(String annotationValue) {
    this.annotationValue = annotationValue;
  }

  /** The value of {@code flotilla.dev/chat-template} that selects this template. */
  public String annotationValue() {
    return annotationValue;
  }

  /** The prompt text for these messages, ending where the assistant's answer begins. */
  abstract String render(List<Message> messages);

  /** The template a model's annotation names; null or blank means {@link #DEFAULT}. */
  public static Optional<ChatTemplate> named(String annotation) {
    if (annotation == null || annotation.isBlank()) {
      return Optional.of(DEFAULT);
    }
    String v = annotation.strip().toLowerCase(Locale.ROOT);
    return Arrays.stream(values()).filter(t -> t.annotationValue.equals(v)).findFirst();
  }

  public static String known() {
    return Arrays.stream(values())
        .map(ChatTemplate::annotationValue)
        .collect(Collectors.joining(", "));
  }

  /** Strict user/assistant alternation after an optional leading system message. */
  private record Turns(String system, List<Message> turns) {
    static Turns of(List<Message> messages) {
      String system = null;
      List<Message> rest = messages;
      if (!messages.isEmpty() && messages.get(0).role().equals("system")) {
        system = messages.get(0).content();
        rest = messages.subList(1, messages.size());
      }
      for (int i = 0; i < rest.size(); i++) {
        String expected = i % 2 == 0 ? "user" : "assistant";
        if (!rest.get(i).role().equals(expected)) {
          throw GatewayStatus.invalidArgument(
              "messages",
              "this model's chat template needs an"
                  + " optional system message, then user and assistant messages alternating,"
                  + " starting with user");
        }
      }
      if (rest.isEmpty() || rest.size() % 2 == 0) {
        throw GatewayStatus.invalidArgument(
            "messages", "this model's chat template needs the last message to be from the user");
      }
      return new Turns(system, rest);
    }
  }
}
