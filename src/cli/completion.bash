# bash completion for mlvm (`mlvm completion bash` prints this; make
# install puts it in bash-completion's directory). It repeats none of the
# command's tables: verbs, subcommands and options come from
# `mlvm completion words [VERB]`, model and experiment names from
# `mlvm config`, runs from `mlvm ps --all --json`, images from
# `mlvm image ls --json`, keys from `mlvm key ls`. It needs only bash, not
# the bash-completion package. Source: src/cli/completion.bash.

# _mlvm_reply WORD...: the words that start with $cur, as COMPREPLY. Bash
# replaces only what follows the last ':' or '=' (COMP_WORDBREAKS), so a
# reply drops what $cur has up to there ("minimal:la" -> "latest").
_mlvm_reply() {
        local w pre=
        case $cur in
        *[:=]*) pre=${cur%"${cur##*[:=]}"} ;;
        esac
        for w in "$@"; do
                [[ $w == "$cur"* ]] && COMPREPLY+=("${w#"$pre"}")
        done
}

# _mlvm_files [-d]: file (or directory) names for what follows the '='.
_mlvm_files() {
        local w
        while IFS= read -r w; do COMPREPLY+=("$w"); done < <(compgen "${1:--f}" -- "${cur##*=}")
        compopt -o filenames 2>/dev/null || true
}

# Names of models (models), experiments (experiments) or both (all) in the
# file -f names, from `mlvm config`: its YAML puts section keys at column
# 0 and names, quoted when they could read as something else, at column 2.
_mlvm_config_names() {
        "$mlvm" "${glob[@]}" config 2>/dev/null | awk -v want="$1" '
                /^[^ ]/ { section = $0; sub(/:.*/, "", section) }
                /^  [^ ]/ && (want == "all" || want == section) {
                        name = $0; sub(/^  /, "", name); sub(/:[^:]*$/, "", name); gsub(/"/, "", name); print name
                }'
}

# Names and run ids on this connection (-c), from `mlvm ps --all --json`.
_mlvm_runs() {
        "$mlvm" "${glob[@]}" ps --all --json 2>/dev/null |
                sed -n 's/^ *"\(name\|run\)": "\([^"]*\)",\{0,1\}$/\2/p' | sort -u
}

_mlvm_images() {
        "$mlvm" "${glob[@]}" image ls --json 2>/dev/null | sed -n 's/^ *"tag": "\([^"]*\)",\{0,1\}$/\1/p'
}

_mlvm_keys() {
        "$mlvm" "${glob[@]}" key ls 2>/dev/null | awk 'NR > 1 && $1 != "-" { print $1 }'
}

_mlvm() {
        local mlvm=${COMP_WORDS[0]} cur t j glue=0 verb='' sub='' nargs=0 prev='' opt='' dashdash=0
        local -a w=() glob=() words=() subs=() opts=()
        COMPREPLY=()

        # The words up to the cursor, with what COMP_WORDBREAKS split at ':'
        # and '=' joined again: "minimal" ":" "la" is "minimal:la".
        for ((j = 0; j <= COMP_CWORD; j++)); do
                t=${COMP_WORDS[j]}
                if ((${#w[@]} > 1)) && [[ $t == [:=] || $glue == 1 ]]; then
                        w[${#w[@]} - 1]+=$t
                        glue=0
                        [[ $t == [:=] ]] && glue=1
                else
                        w+=("$t")
                        glue=0
                fi
        done
        cur=${w[${#w[@]} - 1]}

        # The verb: the first word that is not a global option or its value.
        mapfile -t words < <("$mlvm" completion words help 2>/dev/null)
        for ((j = 1; j < ${#w[@]} - 1; j++)); do
                t=${w[j]}
                if [[ -n $verb ]]; then
                        break
                elif [[ " ${words[*]} " == *" $t= "* ]]; then
                        glob+=("$t" "${w[j + 1]}")
                        ((j++))
                elif [[ $t == -* ]]; then
                        [[ $t == *=* ]] && glob+=("$t")
                else
                        verb=$t
                fi
        done
        if [[ -z $verb ]]; then
                prev=${w[${#w[@]} - 2]}
                if [[ $cur == -* ]]; then
                        _mlvm_reply "${words[@]%=}"
                elif [[ " ${words[*]} " == *" $prev= "* ]]; then
                        opt=$prev
                else
                        mapfile -t words < <("$mlvm" completion words 2>/dev/null)
                        _mlvm_reply "${words[@]}"
                        return 0
                fi
        fi

        # The verb's words: subcommands, then options ('=': takes a value).
        if [[ -n $verb ]]; then
                mapfile -t words < <("$mlvm" completion words "$verb" 2>/dev/null)
                for t in "${words[@]}"; do
                        if [[ $t == -* ]]; then opts+=("$t"); else subs+=("$t"); fi
                done
                for ((; j < ${#w[@]} - 1; j++)); do
                        t=${w[j]}
                        opt=
                        if ((dashdash)); then
                                ((nargs++))
                        elif [[ $t == -- ]]; then
                                dashdash=1
                        elif [[ " ${opts[*]} " == *" $t= "* ]]; then
                                opt=$t
                                [[ $t == -c || $t == --connect || $t == -f || $t == --file ]] &&
                                        glob+=("$t" "${w[j + 1]}")
                                ((j++))
                        elif [[ $t == -* ]]; then
                                [[ $t == --connect=* || $t == --file=* ]] && glob+=("$t")
                        elif [[ ${#subs[@]} -gt 0 && -z $sub && $verb != help ]]; then
                                sub=$t
                        else
                                ((nargs++))
                        fi
                done
                # The cursor is on an option's value.
                opt=''
                prev=${w[${#w[@]} - 2]}
                [[ " ${opts[*]} " == *" $prev= "* ]] && opt=$prev
        fi
        [[ -z $opt && $cur == --*=* ]] && opt=${cur%%=*}

        if [[ -n $opt ]]; then
                case $opt in
                --accel) _mlvm_reply auto kvm tcg ;;
                -k | --key) while IFS= read -r t; do _mlvm_reply "$t"; done < <(_mlvm_keys) ;;
                -o | --out) _mlvm_files -d ;;
                -f | --file | --kernel-deb | --busybox-deb | --from-file) _mlvm_files ;;
                esac
                return 0
        fi
        if ((dashdash)); then
                return 0   # the guest command: nothing to offer from here
        fi
        if [[ $cur == -* ]]; then
                _mlvm_reply "${opts[@]%=}"
                return 0
        fi
        if [[ ${#subs[@]} -gt 0 && -z $sub && $verb != help ]]; then
                _mlvm_reply "${subs[@]}"
                return 0
        fi
        # Verbs that take several names complete each of them.
        ((nargs == 0)) || [[ $verb == up || $verb == down || $verb == stats ]] || return 0
        case $verb${sub:+ $sub} in
        help | "completion words")
                mapfile -t words < <("$mlvm" completion words 2>/dev/null)
                _mlvm_reply "${words[@]}"
                ;;
        up) mapfile -t words < <(_mlvm_config_names models); _mlvm_reply "${words[@]}" ;;
        run) mapfile -t words < <(_mlvm_config_names experiments); _mlvm_reply "${words[@]}" ;;
        down | logs | inspect | artifacts | verify | exec | stats | "creds ls" | "creds rotate")
                mapfile -t words < <(_mlvm_runs)
                _mlvm_reply "${words[@]}"
                ;;
        "image verify" | "image rm") mapfile -t words < <(_mlvm_images); _mlvm_reply "${words[@]}" ;;
        "image build" | "image import" | "image sign") _mlvm_files -d ;;
        "key export") mapfile -t words < <(_mlvm_keys); _mlvm_reply "${words[@]}" ;;
        "key trust") _mlvm_files ;;
        esac
        return 0
}

complete -F _mlvm mlvm
