/// Text that error messages quote from files, kept short: a hostile or broken
/// file can hold a million names or a megabyte-long one, and a message must
/// stay one readable line that still says how much was left out.
public enum MessageText {
    /// At most `limit` items, each cut to `itemLength` characters, then
    /// "… N more": `a, b, c, … 997 more`.
    public static func list<C: Collection>(_ items: C, limit: Int = 8, itemLength: Int = 120, separator: String = ", ") -> String
    where C.Element: StringProtocol {
        var shown = items.prefix(limit).map { clip($0, itemLength) }
        if items.count > limit { shown.append("… \(items.count - limit) more") }
        return shown.joined(separator: separator)
    }

    /// `text` cut to `length` characters, with "…" where it was cut.
    public static func clip<S: StringProtocol>(_ text: S, _ length: Int = 120) -> String {
        text.count <= length ? String(text) : String(text.prefix(length)) + "…"
    }
}
