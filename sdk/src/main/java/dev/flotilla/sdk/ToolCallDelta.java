package dev.flotilla.sdk;

/**
 * A piece of a tool call streamed while the model writes it: the first piece of a call carries its
 * id and name, the next ones pieces of its arguments. Concatenated by {@link #index()}, the pieces
 * give the calls of {@link StreamEvent.Finished#toolCalls()}.
 *
 * @param index the call's position among the response's calls, from 0
 * @param id the call's id on its first piece; empty on the others
 * @param name the function's name on the call's first piece; empty on the others
 * @param argumentsJson the next piece of the arguments' JSON text (may be empty)
 */
public record ToolCallDelta(int index, String id, String name, String argumentsJson) {}
