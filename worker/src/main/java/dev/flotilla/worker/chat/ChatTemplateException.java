package dev.flotilla.worker.chat;

/**
 * A chat template refused or failed to render a conversation: the template called {@code
 * raise_exception}, hit an error, or passed a rendering limit. The message says which, in words the
 * client can act on.
 */
public final class ChatTemplateException extends Exception {
  public ChatTemplateException(String message) {
    super(message);
  }
}
