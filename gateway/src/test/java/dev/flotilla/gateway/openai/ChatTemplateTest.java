package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.gateway.openai.ChatTemplate.Message;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
  private static final List<Message> CHAT =
      List.of(
          new Message("system", "Be brief."),
          new Message("user", "Hi"),
          new Message("assistant", "Hello."),
          new Message("user", "Bye"));

  @Test
  void zephyrMatchesTheTinyModelsJinjaTemplateWithoutBos() {
    // testkit TokenizerFiles.CHAT_TEMPLATE rendered with add_generation_prompt, minus bos_token.
    assertThat(ChatTemplate.ZEPHYR.render(CHAT))
        .isEqualTo(
            "<|system|>\nBe brief.</s>\n"
                + "<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n");
  }

  @Test
  void llama3AndChatmlUseTheirHeaders() {
    assertThat(ChatTemplate.LLAMA3.render(List.of(new Message("user", " Hi "))))
        .isEqualTo(
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assertThat(ChatTemplate.CHATML.render(CHAT.subList(0, 2)))
        .isEqualTo(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n");
  }

  @Test
  void llama2AndMistralFoldTheSystemMessageIntoTheFirstTurn() {
    assertThat(ChatTemplate.LLAMA2.render(CHAT))
        .isEqualTo(
            "[INST] <<SYS>>\nBe brief.\n"
                + "<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]");
    assertThat(ChatTemplate.MISTRAL.render(CHAT))
        .isEqualTo("[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]");
  }

  @Test
  void alternatingTemplatesRefuseOtherOrders() {
    for (List<Message> bad :
        List.of(
            List.of(new Message("assistant", "x")),
            List.of(new Message("user", "a"), new Message("user", "b")),
            List.of(new Message("user", "a"), new Message("assistant", "b")))) {
      assertThatThrownBy(() -> ChatTemplate.MISTRAL.render(bad))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
  }

  @Test
  void annotationValuesSelectTemplates() {
    assertThat(ChatTemplate.named(null)).contains(ChatTemplate.DEFAULT);
    assertThat(ChatTemplate.named(" Llama3 ")).contains(ChatTemplate.LLAMA3);
    assertThat(ChatTemplate.named("jinja")).isEmpty();
    assertThat(ChatTemplate.known()).isEqualTo("zephyr, llama3, chatml, llama2, mistral");
  }
}
