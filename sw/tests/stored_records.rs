//! Records as the release before serde came back wrote them to IndexedDB
//! (`tests/fixtures/queue-v2.json`): each still reads, and is written back member for member.

use offline_sync::dead_letter::DeadLetter;
use offline_sync::entry::Entry;
use serde_json::Value;

fn stored(store: &str) -> Vec<Value> {
    let fixture: Value = serde_json::from_str(include_str!("../../tests/fixtures/queue-v2.json")).unwrap();
    fixture[store].as_array().unwrap().iter().map(|r| {
        let mut fields = r.as_object().unwrap().clone();
        fields.shift_remove("body");
        Value::Object(fields)
    }).collect()
}

#[test]
fn queue_records_read_and_write_back_unchanged() {
    let records = stored("queue");
    assert_eq!(records.len(), 7);
    for record in records {
        let entry = Entry::from_json(&record.to_string()).unwrap_or_else(|e| panic!("{record}: {e:?}"));
        assert_eq!(serde_json::from_str::<Value>(&entry.to_json()).unwrap(), record);
    }
}

#[test]
fn dead_letters_read_and_write_back_unchanged() {
    let records = stored("dead");
    let letters: Vec<DeadLetter> = records.iter().map(|r| DeadLetter::from_json(&r.to_string()).unwrap()).collect();
    assert_eq!(letters.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2]);
    assert!(letters[1].entry.is_none(), "a record that never read has no entry");
    for (letter, mut record) in letters.iter().zip(records) {
        // `raw` is the shell's: what an unreadable record held, beside the letter.
        record.as_object_mut().unwrap().shift_remove("raw");
        assert_eq!(serde_json::from_str::<Value>(&letter.to_json()).unwrap(), record);
    }
}
