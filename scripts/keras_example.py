"""The Keras ``lstm_seq2seq`` example (keras.io/examples/nlp/lstm_seq2seq), as
``scripts/keras_import_check.py`` and the tests of ``seq2seq import-keras`` run it: its
data preparation, model, training and ``decode_sequence``, in substance verbatim (the
inference models are called directly rather than through ``predict``: the same function,
without its per-call overhead)."""

import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


def prepare(data_path, num_samples):
    """The example's vectorisation: tables and one-hot arrays."""
    input_texts, target_texts = [], []
    input_characters, target_characters = set(), set()
    with open(data_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines[: min(num_samples, len(lines) - 1)]:
        # (the example unpacks three fields, the Anki file's; this copy has two)
        input_text, target_text = line.split("\t")[:2]
        target_text = "\t" + target_text + "\n"
        input_texts.append(input_text)
        target_texts.append(target_text)
        input_characters.update(input_text)
        target_characters.update(target_text)
    input_characters, target_characters = sorted(input_characters), sorted(target_characters)
    tables = {
        "input_texts": input_texts, "target_texts": target_texts,
        "input_token_index": {c: i for i, c in enumerate(input_characters)},
        "target_token_index": {c: i for i, c in enumerate(target_characters)},
        "max_encoder_seq_length": max(len(t) for t in input_texts),
        "max_decoder_seq_length": max(len(t) for t in target_texts),
    }
    n, tx, ty = len(input_texts), tables["max_encoder_seq_length"], tables[
        "max_decoder_seq_length"]
    ei, ti = tables["input_token_index"], tables["target_token_index"]
    encoder_input = np.zeros((n, tx, len(ei)), dtype="float32")
    decoder_input = np.zeros((n, ty, len(ti)), dtype="float32")
    decoder_target = np.zeros((n, ty, len(ti)), dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
        for t, char in enumerate(input_text):
            encoder_input[i, t, ei[char]] = 1.0
        encoder_input[i, t + 1 :, ei[" "]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input[i, t, ti[char]] = 1.0
            if t > 0:
                decoder_target[i, t - 1, ti[char]] = 1.0
        decoder_input[i, t + 1 :, ti[" "]] = 1.0
        decoder_target[i, t:, ti[" "]] = 1.0
    return tables, encoder_input, decoder_input, decoder_target


def build_and_train(tables, encoder_input, decoder_input, decoder_target, latent_dim=256,
                    epochs=1, batch_size=64):
    import keras

    keras.utils.set_random_seed(0)
    encoder_inputs = keras.Input(shape=(None, len(tables["input_token_index"])))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    _, state_h, state_c = encoder(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, len(tables["target_token_index"])))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_dense = keras.layers.Dense(len(tables["target_token_index"]), activation="softmax")
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit([encoder_input, decoder_input], decoder_target, batch_size=batch_size,
              epochs=epochs, validation_split=0.2, verbose=0)
    return model


def inference_models(model, latent_dim=256):
    """The example's encoder_model and decoder_model, from the trained (or loaded) model."""
    import keras

    encoder_inputs = model.input[0]
    _, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = keras.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    states_inputs = [keras.Input(shape=(latent_dim,)), keras.Input(shape=(latent_dim,))]
    decoder_lstm = model.layers[3]
    outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=states_inputs)
    outputs = model.layers[4](outputs)
    decoder_model = keras.Model([decoder_inputs] + states_inputs,
                                [outputs, state_h_dec, state_c_dec])
    return encoder_model, decoder_model


def decode_sequence(input_seq, encoder_model, decoder_model, tables):
    """The example's greedy loop, one sentence at a time."""
    import keras

    numpy = keras.ops.convert_to_numpy
    ti = tables["target_token_index"]
    reverse = {i: c for c, i in ti.items()}
    states_value = [numpy(s) for s in encoder_model(input_seq)]
    target_seq = np.zeros((1, 1, len(ti)), dtype="float32")
    target_seq[0, 0, ti["\t"]] = 1.0
    decoded_sentence = ""
    while True:
        output_tokens, h, c = (numpy(t) for t in decoder_model([target_seq] + states_value))
        sampled_token_index = int(np.argmax(output_tokens[0, -1, :]))
        sampled_char = reverse[sampled_token_index]
        decoded_sentence += sampled_char
        if sampled_char == "\n" or len(decoded_sentence) > tables["max_decoder_seq_length"]:
            return decoded_sentence
        target_seq = np.zeros((1, 1, len(ti)), dtype="float32")
        target_seq[0, 0, sampled_token_index] = 1.0
        states_value = [h, c]
