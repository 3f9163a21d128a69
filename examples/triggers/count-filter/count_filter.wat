;; count-filter: an Eddy trigger, hand-written in WebAssembly text.
;;
;; For every batch it logs one line:
;;
;;   count-filter: 2 of 5 records are INSERTs with status = "open"
;;
;; A record counts when its "eventName" is "INSERT" and its new image holds
;; `status` as the string "open", that is dynamodb.NewImage.status == {"S": "open"}.
;; It writes nothing and always answers "{}" (every record succeeded).
;;
;; The guest ABI (docs/triggers.md): export `memory`, `alloc(len) -> ptr` and
;; `handle(ptr, len) -> (ptr << 32) | len`; import host functions from module "eddy".
;;
;; The batch is parsed with a small JSON walker rather than by searching for
;; substrings, so key order, whitespace and nesting do not matter, and a string
;; value that merely contains the text "INSERT" or "open" is not miscounted.
;; Every read goes through $byte, which answers 0 past the end of the batch, and
;; every loop either advances or stops, so malformed input cannot run off the end
;; of the buffer or loop forever. Keys are compared byte for byte as they appear
;; in the JSON (a key spelt with \u escapes would not match; Eddy never writes one).
(module
  (import "eddy" "log" (func $log (param i32 i32)))

  (memory (export "memory") 1)

  ;; ---- constant strings, below 1024 -------------------------------------
  (data (i32.const 16)  "Records")      ;; 7 bytes
  (data (i32.const 32)  "eventName")    ;; 9
  (data (i32.const 48)  "INSERT")       ;; 6
  (data (i32.const 64)  "dynamodb")     ;; 8
  (data (i32.const 80)  "NewImage")     ;; 8
  (data (i32.const 96)  "status")       ;; 6
  (data (i32.const 112) "S")            ;; 1
  (data (i32.const 128) "open")         ;; 4
  (data (i32.const 144) "{}")           ;; 2: the response
  (data (i32.const 160) "count-filter: ")                              ;; 14
  (data (i32.const 192) " of ")                                        ;; 4
  (data (i32.const 208) " records are INSERTs with status = \"open\"") ;; 41
  ;; 512..1023: scratch space where the log line is assembled.
  ;; The batch buffers handed out by $alloc start at 1024.

  ;; One past the last byte of the batch being parsed.
  (global $end (mut i32) (i32.const 0))
  ;; Next free byte for $alloc.
  (global $heap (mut i32) (i32.const 1024))

  ;; ---- alloc: a bump allocator -----------------------------------------
  ;; Every batch runs in a fresh instance, so nothing is ever freed.
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    ;; round the start up to 8 bytes
    (local.set $ptr
      (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $ptr) (local.get $len)))
    ;; grow the memory one page at a time until the buffer fits
    (block $fits
      (loop $grow
        (br_if $fits
          (i32.le_u (global.get $heap)
                    (i32.mul (memory.size) (i32.const 65536))))
        ;; memory.grow answers -1 when refused: trap rather than hand out
        ;; a buffer that does not exist
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then unreachable))
        (br $grow)))
    (local.get $ptr))

  ;; ---- the JSON walker -------------------------------------------------

  ;; The byte at $p, or 0 at or past the end of the batch.
  (func $byte (param $p i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $p) (global.get $end))
      (then (i32.load8_u (local.get $p)))
      (else (i32.const 0))))

  ;; Skips JSON whitespace (space, tab, newline, carriage return).
  (func $ws (param $p i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (local.set $c (call $byte (local.get $p)))
        (br_if $done
          (i32.eqz
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 32))    ;; ' '
                      (i32.eq (local.get $c) (i32.const 9)))    ;; '\t'
              (i32.or (i32.eq (local.get $c) (i32.const 10))    ;; '\n'
                      (i32.eq (local.get $c) (i32.const 13)))))) ;; '\r'
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $p is at the opening quote of a string: returns the position just after
  ;; its closing quote (or the end of the batch). A backslash skips the next
  ;; byte, which covers \" and \\; \uXXXX needs no special case.
  (func $skip_string (param $p i32) (result i32)
    (local $c i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $p) (global.get $end))
        (then (return (global.get $end))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 34))          ;; '"'
        (then (return (i32.add (local.get $p) (i32.const 1)))))
      (local.set $p
        (i32.add (local.get $p)
          (select (i32.const 2) (i32.const 1)
                  (i32.eq (local.get $c) (i32.const 92))))) ;; '\\'
      (br $next))
    (unreachable))

  ;; $p is at the first byte of any JSON value: returns the position just
  ;; after it. Objects and arrays are skipped by counting brackets outside
  ;; strings, so deep nesting costs no stack.
  (func $skip_value (param $p i32) (result i32)
    (local $c i32)
    (local $depth i32)
    (local.set $c (call $byte (local.get $p)))
    ;; a string
    (if (i32.eq (local.get $c) (i32.const 34))
      (then (return (call $skip_string (local.get $p)))))
    ;; an object or an array
    (if (i32.or (i32.eq (local.get $c) (i32.const 123))   ;; '{'
                (i32.eq (local.get $c) (i32.const 91)))   ;; '['
      (then
        (loop $next
          (if (i32.ge_u (local.get $p) (global.get $end))
            (then (return (global.get $end))))
          (local.set $c (i32.load8_u (local.get $p)))
          (if (i32.eq (local.get $c) (i32.const 34))
            (then
              (local.set $p (call $skip_string (local.get $p)))
              (br $next)))
          (if (i32.or (i32.eq (local.get $c) (i32.const 123))
                      (i32.eq (local.get $c) (i32.const 91)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
          (if (i32.or (i32.eq (local.get $c) (i32.const 125))  ;; '}'
                      (i32.eq (local.get $c) (i32.const 93)))  ;; ']'
            (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $next (i32.gt_s (local.get $depth) (i32.const 0))))
        (return (local.get $p))))
    ;; a number, true, false or null: up to the next delimiter
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (global.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eq (local.get $c) (i32.const 44)))   ;; ','
        (br_if $done (i32.eq (local.get $c) (i32.const 125)))  ;; '}'
        (br_if $done (i32.eq (local.get $c) (i32.const 93)))   ;; ']'
        (br_if $done (i32.le_u (local.get $c) (i32.const 32))) ;; whitespace
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; 1 when $p is at a JSON string whose raw bytes are exactly the $n bytes
  ;; at $lit, else 0.
  (func $string_is (param $p i32) (param $lit i32) (param $n i32) (result i32)
    (local $i i32)
    (if (i32.ne (call $byte (local.get $p)) (i32.const 34))
      (then (return (i32.const 0))))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $differs
      (loop $next
        (if (i32.lt_u (local.get $i) (local.get $n))
          (then
            (br_if $differs
              (i32.ne (call $byte (i32.add (local.get $p) (local.get $i)))
                      (i32.load8_u (i32.add (local.get $lit) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))))
      ;; all $n bytes matched: the string must end right here
      (return (i32.eq (call $byte (i32.add (local.get $p) (local.get $n)))
                      (i32.const 34))))
    (i32.const 0))

  ;; $obj is at an object (or is 0): returns the position of the value of its
  ;; member named by the $n bytes at $lit, or 0 when there is no such member or
  ;; $obj is not an object. 0 is never a valid answer otherwise, since batches
  ;; live at 1024 and above, so lookups can be chained.
  (func $find (param $obj i32) (param $lit i32) (param $n i32) (result i32)
    (local $p i32)
    (local $key i32)
    (if (i32.eqz (local.get $obj)) (then (return (i32.const 0))))
    (if (i32.ne (call $byte (local.get $obj)) (i32.const 123))   ;; '{'
      (then (return (i32.const 0))))
    (local.set $p (call $ws (i32.add (local.get $obj) (i32.const 1))))
    (loop $member
      ;; a member starts with its key; anything else ('}' included) ends the search
      (if (i32.ne (call $byte (local.get $p)) (i32.const 34))
        (then (return (i32.const 0))))
      (local.set $key (local.get $p))
      (local.set $p (call $ws (call $skip_string (local.get $p))))
      (if (i32.ne (call $byte (local.get $p)) (i32.const 58))    ;; ':'
        (then (return (i32.const 0))))
      (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
      (if (call $string_is (local.get $key) (local.get $lit) (local.get $n))
        (then (return (local.get $p))))
      ;; not this one: skip the value and expect ',' before the next member
      (local.set $p (call $ws (call $skip_value (local.get $p))))
      (if (i32.ne (call $byte (local.get $p)) (i32.const 44))    ;; ','
        (then (return (i32.const 0))))
      (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
      (br $member))
    (unreachable))

  ;; ---- the filter ------------------------------------------------------

  ;; 1 when the record at $rec is an INSERT whose new image has status = "open".
  (func $is_open_insert (param $rec i32) (result i32)
    (local $v i32)
    ;; eventName == "INSERT"
    (if (i32.eqz (call $string_is
                   (call $find (local.get $rec) (i32.const 32) (i32.const 9))
                   (i32.const 48) (i32.const 6)))
      (then (return (i32.const 0))))
    ;; dynamodb.NewImage.status.S == "open"
    (local.set $v (call $find (local.get $rec) (i32.const 64) (i32.const 8)))   ;; dynamodb
    (local.set $v (call $find (local.get $v) (i32.const 80) (i32.const 8)))     ;; NewImage
    (local.set $v (call $find (local.get $v) (i32.const 96) (i32.const 6)))     ;; status
    (local.set $v (call $find (local.get $v) (i32.const 112) (i32.const 1)))    ;; S
    (call $string_is (local.get $v) (i32.const 128) (i32.const 4)))            ;; "open"

  ;; ---- building the log line -------------------------------------------

  ;; Copies $n bytes from $src to $dst; returns $dst + $n.
  (func $emit (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.add (local.get $dst) (local.get $n)))

  ;; Writes $n in decimal at $dst; returns the position after the last digit.
  (func $emit_u32 (param $dst i32) (param $n i32) (result i32)
    (local $digits i32)
    (local $t i32)
    (local $end i32)
    ;; count the digits (at least one)
    (local.set $t (local.get $n))
    (loop $count
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $count (i32.ne (local.get $t) (i32.const 0))))
    (local.set $end (i32.add (local.get $dst) (local.get $digits)))
    ;; write them from the right
    (local.set $t (local.get $end))
    (loop $write
      (local.set $t (i32.sub (local.get $t) (i32.const 1)))
      (i32.store8 (local.get $t)
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $write (i32.gt_u (local.get $t) (local.get $dst))))
    (local.get $end))

  ;; ---- handle: one batch -----------------------------------------------
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $p i32)
    (local $total i32)
    (local $open i32)
    (local $line i32)
    (global.set $end (i32.add (local.get $ptr) (local.get $len)))

    ;; $p: the "Records" array of the top-level object
    (local.set $p
      (call $find (call $ws (local.get $ptr)) (i32.const 16) (i32.const 7)))
    (if (i32.eq (call $byte (local.get $p)) (i32.const 91))   ;; '['
      (then
        (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
        (block $done
          (loop $record
            ;; ']' (an empty list) or the end of the batch: stop
            (br_if $done (i32.ge_u (local.get $p) (global.get $end)))
            (br_if $done (i32.eq (call $byte (local.get $p)) (i32.const 93)))
            (local.set $total (i32.add (local.get $total) (i32.const 1)))
            (if (call $is_open_insert (local.get $p))
              (then (local.set $open (i32.add (local.get $open) (i32.const 1)))))
            ;; on to the next record, if a ',' says there is one
            (local.set $p (call $ws (call $skip_value (local.get $p))))
            (br_if $done (i32.ne (call $byte (local.get $p)) (i32.const 44)))
            (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1))))
            (br $record)))))

    ;; "count-filter: <open> of <total> records are INSERTs with status = "open""
    (local.set $line (call $emit (i32.const 512) (i32.const 160) (i32.const 14)))
    (local.set $line (call $emit_u32 (local.get $line) (local.get $open)))
    (local.set $line (call $emit (local.get $line) (i32.const 192) (i32.const 4)))
    (local.set $line (call $emit_u32 (local.get $line) (local.get $total)))
    (local.set $line (call $emit (local.get $line) (i32.const 208) (i32.const 41)))
    (call $log (i32.const 512) (i32.sub (local.get $line) (i32.const 512)))

    ;; answer "{}": (144 << 32) | 2
    (i64.or (i64.shl (i64.const 144) (i64.const 32)) (i64.const 2))))
