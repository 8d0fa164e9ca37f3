#!/usr/bin/env bash
# Bash completion, driven as bash drives it: source `mlvm completion bash`,
# set COMP_WORDS and COMP_CWORD, call the function, read COMPREPLY; against
# a real mlvm.yaml and a state directory with a run record and an image tag
# in a temporary directory (no libvirt: ps and image ls only read files).
. "$TOP_SRCDIR/tests/lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR=$tmp/state MLVM_CONNECT=test:///default
mkdir -m 700 "$MLVM_STATE_DIR"
mkdir -p "$MLVM_STATE_DIR/runs/3f9c2a1e" "$MLVM_STATE_DIR/runs/0badc0de" "$MLVM_STATE_DIR/images/tags"
printf '{"name":"model-a","uri":"test:///default","state":"exited","created_at":1}\n' \
        >"$MLVM_STATE_DIR/runs/3f9c2a1e/run.json"
printf '{"name":"elsewhere","uri":"qemu:///system","state":"exited","created_at":2}\n' \
        >"$MLVM_STATE_DIR/runs/0badc0de/run.json"
printf 'sha256:%064d\n' 0 >"$MLVM_STATE_DIR/images/tags/minimal:latest"
mkdir "$tmp/proj" "$tmp/proj/recipe"
cat >"$tmp/proj/mlvm.yaml" <<'EOF'
models:
  model-a: { image: minimal }
  "yes": { image: minimal }
experiments:
  exp-1: { image: minimal }
EOF
cat >"$tmp/other.yaml" <<'EOF'
models:
  other-model: { image: minimal }
EOF
cd "$tmp/proj" || exit 1

script=$("$MLVM" completion bash); check_eq "mlvm completion bash exits 0" 0 $?
check_eq "the script is valid bash" "" "$(bash -n <(printf '%s\n' "$script") 2>&1)"
# shellcheck disable=SC1090
. <(printf '%s\n' "$script")
check_match "it registers _mlvm for mlvm" "^complete -F _mlvm mlvm$" "$(complete -p mlvm)"
mlvm() { "$MLVM" "$@"; }

# comp WORD...: COMPREPLY, sorted and on one line, for the cursor on the last WORD.
comp() {
        COMP_WORDS=("$MLVM" "$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _mlvm
        printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

verbs=$("$MLVM" completion words | sort | tr '\n' ' ' | sed 's/ $//')
check_eq "verbs: every verb of the table" "$verbs" "$(comp "")"
check_match "the verbs include up, ps, completion and help" "(^| )completion .*help .*ps .*up( |$)" "$verbs"
check_eq "verbs by prefix" "image info inspect" "$(comp i)"
check_eq "global options before the verb" "--connect" "$(comp --con)"
check_eq "a verb's options" "--progress --publish --publish-public" "$(comp up --no-wait --p)"
check_eq "an option's value is not an option" "" "$(comp up --accel --k)"
check_eq "a verb's options include the global ones" "--json" "$(comp ps --js)"
check_eq "subcommands" "build import ls rm sign verify" "$(comp image "")"
check_eq "a subcommand after an option with a value" "rm" "$(comp image --tag x r)"
check_eq "config's one word" "check" "$(comp config "")"
check_eq "models for up, from mlvm.yaml" "model-a yes" "$(comp up "")"
check_eq "experiments for run" "exp-1" "$(comp run "")"
check_eq "names from the file -f names" "other-model" "$(comp -f "$tmp/other.yaml" up "")"
check_eq "names from the file --file= names, after the verb" "other-model" "$(comp up --file "=" "$tmp/other.yaml" "")"
check_eq "up takes several names" "model-a yes" "$(comp up model-a "")"
check_eq "one operand only for logs" "" "$(comp logs model-a "")"
check_eq "stats takes several runs" "3f9c2a1e model-a" "$(comp stats model-a "")"
check_eq "names and run ids on this connection for down" "3f9c2a1e model-a" "$(comp down "")"
check_eq "run ids by prefix for logs" "3f9c2a1e" "$(comp logs 3f)"
check_eq "logs -f is --follow there, not a file" "3f9c2a1e model-a" "$(comp logs -f "")"
check_eq "runs of another connection with -c" "0badc0de elsewhere" "$(comp -c qemu:///system inspect "")"
check_eq "runs for creds ls" "3f9c2a1e model-a" "$(comp creds ls "")"
check_eq "images for image rm" "minimal:latest" "$(comp image rm "")"
check_eq "an image after the ':' bash splits at" "latest" "$(comp image verify minimal : la)"
check_eq "accelerators for --accel" "auto kvm tcg" "$(comp run exp-1 --accel "")"
check_eq "directories for image build" "recipe" "$(comp image build re)"
check_eq "files for -f" "mlvm.yaml" "$(comp -f mlvm)"
"$MLVM" key gen signer >/dev/null
check_eq "key names for key export" "signer" "$(comp key export "")"
check_eq "key names for image sign --key" "signer" "$(comp image sign --key s)"
check_eq "verbs for help" "up" "$(comp help u)"
check_eq "shells for completion" "bash words zsh" "$(comp completion "")"
check_eq "nothing for the command after exec --" "" "$(comp exec model-a -- "")"

out=$("$MLVM" completion zsh); check_eq "mlvm completion zsh exits 0" 0 $?
check_eq "the zsh script is the bash one through bashcompinit" \
        "$(printf '#compdef mlvm\nautoload -U +X bashcompinit && bashcompinit\n%s' "$script")" "$out"
err=$("$MLVM" completion fish 2>&1); st=$?
check_eq "an unknown shell exits 2" 2 "$st"
check_eq "an unknown shell is one line" \
        "mlvm: completion: unknown subcommand 'fish' (see 'mlvm completion --help')" "$err"
err=$("$MLVM" completion words nosuch 2>&1); st=$?
check_eq "words of an unknown verb exits 2" 2 "$st"
check_eq "words of an unknown verb is one line" "mlvm: completion: unknown verb 'nosuch' (see 'mlvm --help')" "$err"

done_testing
