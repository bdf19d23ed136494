import Foundation

extension String {
    /// This URL with its password, if it has one, shown as `****` (for messages, banners and answers anyone may
    /// read); the text itself when it is not a URL.
    public var maskingPassword: String {
        guard var components = URLComponents(string: self), components.password != nil else { return self }
        components.password = "****"
        return components.string ?? self
    }
}
